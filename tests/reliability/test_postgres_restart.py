"""PostgreSQL restarted under the app and under the repair job: 503 meanwhile, then it recovers."""
from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from provenant.http.app import create_app
from tests.support.cli import cli_env
from tests.support.backlog import legacy_backlog
from tests.support.consistency import assert_consistent, lineage_of
from tests.support.jobs import wait_for_repairs
from tests.support.pg_cluster import PrivateCluster

pytestmark = pytest.mark.postgres

SIGNAL = {"type": "signal", "name": "TSLA signal", "symbol": "TSLA",
          "workflow_id": "ibkr_trading_signal_workflow", "execution_id": "restart-1",
          "step_name": "generate_signal", "payload": {"action": "BUY", "confidence": 0.7}}


@pytest.fixture(scope="module")
def cluster():
    """Our own cluster: restarting the shared test server would break everyone else's tests."""
    cluster = PrivateCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def database_url(cluster) -> str:
    """A fresh database on the private cluster (the `services` fixture builds on it)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return cluster.url(name)


def terminate_other_backends(url: str) -> int:
    """What every client sees in a restart: its connections dropped by the server."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    admin.dispose()
    return ended


def test_requests_during_an_outage_get_503_and_the_next_ones_succeed(services, cluster):
    with TestClient(create_app(services)) as client:
        stored = client.post("/api/artifacts", json=SIGNAL)
        assert stored.status_code == 201, stored.text
        one = f"/api/artifacts/{stored.json()['id']}"
        assert client.get(one).status_code == 200  # the pool now holds live connections

        cluster.stop()  # a fast shutdown ends every session, as a restart does
        during = [client.get("/api/artifacts"), client.get(one),
                  client.post("/api/artifacts", json=SIGNAL), client.post("/api/lineage/repair")]
        health = client.get("/api/health")
        cluster.start()
        assert [r.status_code for r in during] == [503] * 4, [r.text for r in during]
        assert all(r.headers["Retry-After"] for r in during)
        assert "artifact database" in during[0].json()["detail"]
        assert (health.status_code, health.json()["status"]) == (503, "degraded")

        # The pool's connections all died with the server: the first request after it still works.
        assert client.get(one).status_code == 200
        again = {**SIGNAL, "name": "TSLA signal 2"}  # the same name would be the same artifact
        assert client.post("/api/artifacts", json=again).status_code == 201
        assert terminate_other_backends(services.settings.database_url) >= 1
        assert client.get(one).status_code == 200
        assert client.get("/api/artifacts").json()["items"].__len__() == 2  # no half-stored one


def test_repair_job_rides_out_a_restart_and_reports_a_long_outage(services, mlflow_uri,
                                                                   tmp_path, cluster,
                                                                   fork_server):
    expected = legacy_backlog(services, mlflow_uri, tmp_path, executions=200)
    env = cli_env(services, PROVENANT_REPAIR_BATCH_SIZE="5")
    out, err = tmp_path / "repair.out", tmp_path / "repair.err"

    # Down for longer than the job's retries: it stops with a message, nothing torn.
    job = fork_server.start(["lineage", "repair", "--json"], env, out, err)
    wait_for_repairs(err, job, 100)
    cluster.stop()
    assert fork_server.wait(job) == 1
    first = json.loads(out.read_text())
    assert "artifact database is unavailable" in first["errors"][0]
    assert "Traceback" not in err.read_text()
    cluster.start()
    done = assert_consistent(services.engine)  # no lineage without its audit row, or vice versa
    assert done == len(first["repaired"])

    # Restarted mid-run: the job retries the batch it lost and finishes.
    remaining = set(expected) - {r["artifact_id"] for r in first["repaired"]}
    job = fork_server.start(["lineage", "repair", "--json"], env, out, err)
    wait_for_repairs(err, job, 100)
    cluster.stop()
    cluster.start()
    assert fork_server.wait(job) == 0, err.read_text()
    second = json.loads(out.read_text())
    # A batch committed just before its connection died is found done on retry: "skipped".
    assert {r["artifact_id"] for r in second["repaired"]} | set(second["skipped"]) == remaining
    print(f"\nlong outage after {done} repairs: exit 1, {first['errors'][0]}; restart mid-run: "
          f"exit 0, {err.read_text().count('retrying in')} retried batch(es), "
          f"{len(second['repaired'])} repaired, {len(second['skipped'])} found done")
    assert assert_consistent(services.engine) == len(expected)
    assert lineage_of(services.engine) == expected
