"""Hydration on read against a real `mlflow server` (through a counting proxy), both databases."""
from __future__ import annotations

import threading
import time
import uuid
from urllib.parse import quote

import httpx
import pytest

from provenant.http.app import create_app
from provenant.bootstrap import configure, get_services
from provenant.domain.artifacts import NewArtifact
from tests.support.api import AUTH, WF, LiveServer, log_run, signal_body
from tests.support.proxy import CountingProxy

pytestmark = pytest.mark.mlflow_server


def odd_execution_id() -> str:
    """Quotes, spaces, `+` and `:`, unique per test (the server is shared by the session)."""
    return f"manual__2026-11-25T10:00:00+00:00 \"it's\" {uuid.uuid4().hex[:8]}"


@pytest.fixture
def proxy(mlflow_server):
    with CountingProxy(mlflow_server.url) as counting:
        yield counting


def test_posted_before_its_run_then_repaired_once_and_kept(api_settings, start_api, proxy,
                                                           mlflow_server):
    settings = api_settings(mlflow_tracking_uri=proxy.url, hydration_miss_ttl_seconds=0)
    api = start_api(settings)
    execution_id = odd_execution_id()
    created = api.post("/api/artifacts", json=signal_body(execution_id=execution_id),
                       headers=AUTH).json()
    assert created["lineage"]["status"] == "pending"
    url = f"/api/artifacts/{created['id']}"
    assert api.get(url).json()["lineage"]["status"] == "pending"

    run_id, experiment_id = log_run(mlflow_server.url,
                                    {"execution_id": execution_id, "workflow_id": WF})
    repaired = api.get(url).json()
    assert (repaired["run_id"], repaired["experiment_id"]) == (run_id, experiment_id)
    assert repaired["lineage"]["status"] == "repaired"
    assert repaired["lineage"]["repaired_at"] is not None
    assert repaired["lineage"]["mlflow_run_url"] == (
        f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id}")

    proxy.reset()
    for _ in range(20):
        assert api.get(url).json()["lineage"]["status"] == "repaired"
    listed = api.get("/api/artifacts", params={"execution_id": execution_id}).json()["items"]
    assert [(a["run_id"], a["lineage"]["status"]) for a in listed] == [(run_id, "repaired")]
    execution = api.get(f"/api/executions/{quote(execution_id, safe='')}").json()
    assert execution["run"]["run_id"] == run_id
    assert proxy.count == 0  # stored lineage: later reads never ask MLflow

    repairs = api.get("/api/lineage/repairs", params={"artifact_id": created["id"]}).json()
    assert [(r["artifact_id"], r["run_id"], r["experiment_id"], r["source"])
            for r in repairs["items"]] == [(created["id"], run_id, experiment_id, "hydrate")]

    proxy.down = True  # restart the API with the tracker gone: lineage must still be there
    restarted = start_api(api_settings(mlflow_tracking_uri=proxy.url))
    after = restarted.get(url).json()
    assert (after["run_id"], after["experiment_id"]) == (run_id, experiment_id)
    assert after["lineage"]["status"] == "repaired"
    assert proxy.count == 0
    assert len(restarted.get("/api/lineage/repairs").json()["items"]) == 1


def test_run_of_another_workflow_never_matches(api_settings, start_api, mlflow_server):
    api = start_api(api_settings(mlflow_tracking_uri=mlflow_server.url,
                                 hydration_miss_ttl_seconds=0))
    execution_id = odd_execution_id()
    created = api.post("/api/artifacts", json=signal_body(execution_id=execution_id),
                       headers=AUTH).json()
    log_run(mlflow_server.url, {"execution_id": execution_id, "workflow_id": "other_workflow"})
    read = api.get(f"/api/artifacts/{created['id']}").json()
    assert read["run_id"] is None and read["lineage"]["status"] == "pending"

    legacy_run, legacy_experiment = log_run(mlflow_server.url, {"execution_id": execution_id})
    read = api.get(f"/api/artifacts/{created['id']}").json()
    assert (read["run_id"], read["experiment_id"]) == (legacy_run, legacy_experiment)
    assert read["lineage"]["status"] == "repaired"


def test_newest_run_by_start_time_wins(api_settings, start_api, mlflow_server):
    api = start_api(api_settings(mlflow_tracking_uri=mlflow_server.url))
    execution_id = odd_execution_id()
    tags = {"execution_id": execution_id, "workflow_id": WF}
    now_ms = int(time.time() * 1000)
    newest, _ = log_run(mlflow_server.url, tags, start_time=now_ms)
    log_run(mlflow_server.url, tags, start_time=now_ms - 60_000)  # created later, started earlier
    posted = api.post("/api/artifacts", json=signal_body(execution_id=execution_id),
                      headers=AUTH).json()
    assert posted["run_id"] == newest  # the store-time lookup follows the same rule
    legacy = get_services().artifacts.add(NewArtifact(  # a row stored without lineage
        type="signal", name="legacy", symbol="TSLA", workflow_id=WF, execution_id=execution_id,
        payload={"action": "SELL", "confidence": 0.3}))
    assert api.get(f"/api/artifacts/{legacy.id}").json()["run_id"] == newest


def test_tracker_down_answers_unavailable(api_settings, proxy, mlflow_server,
                                                      short_mlflow_retries):
    services = configure(api_settings(mlflow_tracking_uri=proxy.url))
    with LiveServer(create_app(services)) as live:
        created = httpx.post(f"{live.url}/api/artifacts", headers=AUTH, timeout=60,
                             json=signal_body(execution_id=odd_execution_id())).json()
        proxy.down = True
        answer = httpx.get(f"{live.url}/api/artifacts/{created['id']}", timeout=3)
        assert answer.status_code == 200
        assert answer.json()["lineage"]["status"] == "unavailable"
        assert answer.json()["run_id"] is None
        assert services.artifacts.repairs(created["id"]) == []


def test_tracker_slow_answers_unavailable_then_repairs(api_settings, proxy, mlflow_server,
                                                      short_mlflow_retries):
    services = configure(api_settings(mlflow_tracking_uri=proxy.url))
    execution_id = odd_execution_id()
    with LiveServer(create_app(services)) as live:
        created = httpx.post(f"{live.url}/api/artifacts", headers=AUTH, timeout=60,
                             json=signal_body(execution_id=execution_id)).json()
        run_id, _ = log_run(mlflow_server.url, {"execution_id": execution_id, "workflow_id": WF})
        proxy.delay = 4.0
        url = f"{live.url}/api/artifacts/{created['id']}"
        answer = httpx.get(url, timeout=3)
        assert answer.status_code == 200
        assert answer.json()["lineage"]["status"] == "unavailable"
        proxy.delay = 0.0
        statuses = []
        for _ in range(10):  # the slow lookup still runs; later reads join it, then repair
            statuses.append(httpx.get(url, timeout=10).json()["lineage"]["status"])
            if statuses[-1] == "repaired":
                break
        assert statuses[-1] == "repaired"
        assert set(statuses[:-1]) <= {"unavailable"}
        assert services.artifacts.get(created["id"]).run_id == run_id


def test_concurrent_reads_repair_once(api_settings, proxy, mlflow_server):
    services = configure(api_settings(mlflow_tracking_uri=proxy.url))
    execution_id = odd_execution_id()
    with LiveServer(create_app(services)) as live:
        ids = [httpx.post(f"{live.url}/api/artifacts", headers=AUTH, timeout=60,
                          json=signal_body(execution_id=execution_id)).json()["id"]
               for _ in range(3)]
        run_id, _ = log_run(mlflow_server.url, {"execution_id": execution_id})
        proxy.reset()
        answers: list[dict] = []

        def read(artifact_id):
            answers.append(httpx.get(f"{live.url}/api/artifacts/{artifact_id}",
                                     timeout=30).json())

        threads = [threading.Thread(target=read, args=(i,)) for i in ids * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert {a["run_id"] for a in answers} == {run_id}
    assert {a["lineage"]["status"] for a in answers} == {"repaired"}
    for artifact_id in ids:
        assert len(services.artifacts.repairs(artifact_id)) == 1
    print("tracking requests:", proxy.count)
    # Concurrent reads share a lookup; each takes 2 requests (experiments, runs).
    assert proxy.count <= 2 * len(ids)
