"""Shared API fixtures, plus health, OpenAPI, metrics and auth tests (SQLite, PostgreSQL)."""
from __future__ import annotations

import io
import threading
import time
import uuid

import pytest
import uvicorn
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from PIL import Image

from provenant.http.app import create_app
from provenant.bootstrap import configure, reset_services
from provenant.adapters.mlflow_tracker import MLFLOW_ENVIRONMENT
from tests.support.mlflow_server import free_port

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WF = "ibkr_trading_signal_workflow"


def png_bytes(color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def signal_body(**overrides) -> dict:
    body = {"type": "signal", "name": "TSLA signal", "symbol": "TSLA", "workflow_id": WF,
            "execution_id": f"exec-{uuid.uuid4().hex[:8]}", "step_name": "generate_signal",
            "payload": {"action": "BUY", "confidence": 0.72}}
    return {**body, **overrides}


def log_run(tracking_uri: str, tags: dict, start_time: int | None = None,
            experiment: str | None = None) -> tuple[str, str]:
    """Create a real MLflow run with these tags; returns (run_id, experiment_id)."""
    client = MlflowClient(tracking_uri)
    name = experiment or f"exp-{uuid.uuid4().hex[:8]}"
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found else client.create_experiment(name)
    run = client.create_run(experiment_id, start_time=start_time, tags=tags)
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id, experiment_id


@pytest.fixture
def api_settings(make_settings, database_url, mlflow_uri):
    """Settings for an API on a real database and MLflow store; keywords override."""
    def make(**overrides):
        values = {"database_url": database_url, "mlflow_tracking_uri": mlflow_uri,
                  "api_token": TOKEN, "repair_interval_seconds": 0, **overrides}
        return make_settings(**values)
    return make


@pytest.fixture
def start_api():
    """Build services + app from settings and open a TestClient; all closed afterwards."""
    opened = []

    def start(settings) -> TestClient:
        client = TestClient(create_app(configure(settings)))
        client.__enter__()
        opened.append(client)
        return client

    yield start
    for client in reversed(opened):
        client.__exit__(None, None, None)
    reset_services()


@pytest.fixture
def api(api_settings, start_api) -> TestClient:
    """A client of the API on a fresh database (SQLite or PostgreSQL) and MLflow store."""
    return start_api(api_settings())


@pytest.fixture
def short_mlflow_retries(monkeypatch):
    """MLflow HTTP retries as `provenant serve` sets them."""
    for name, value in MLFLOW_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


class LiveServer:
    """The app under a real uvicorn on a free port, in a thread (for real client timeouts)."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def test_health_reports_ok(api):
    answer = api.get("/api/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_health_reports_a_database_it_cannot_reach(api_settings, start_api, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the database folder should be")
    client = start_api(api_settings(database_url=f"sqlite:///{blocked}/db.sqlite"))
    answer = client.get("/api/health")
    assert answer.status_code == 503
    assert answer.json()["status"] == "degraded"


def test_openapi_docs_and_schema(api):
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/health", "/api/artifacts", "/api/artifacts/{artifact_id}",
                 "/api/artifacts/{artifact_id}/image", "/api/lineage/repairs",
                 "/api/executions/{execution_id}"):
        assert path in paths


def test_metrics_expose_hydrations_repairs_and_tracking(api):
    created = api.post("/api/artifacts", json=signal_body(), headers=AUTH).json()
    api.get(f"/api/artifacts/{created['id']}")  # a lookup that finds no run yet
    text = api.get("/metrics").text
    assert 'provenant_hydrations_total{outcome="pending"}' in text
    assert "provenant_tracking_lookup_seconds_count" in text
    assert "provenant_tracking_calls_total" in text
    assert "provenant_tracking_failures_total" in text
    assert "provenant_lineage_repairs" in text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_every_write_needs_the_token(api, headers):
    created = api.post("/api/artifacts", json=signal_body(type="chart", name="c",
                                                          payload={"chart_type": "daily"}),
                       headers=AUTH).json()
    answers = [api.post("/api/artifacts", json=signal_body(), headers=headers),
               api.put(f"/api/artifacts/{created['id']}/image", content=png_bytes(),
                       headers=headers)]
    for answer in answers:
        assert answer.status_code == 401
        assert "token" in answer.json()["detail"]
        assert TOKEN not in answer.text
    assert api.get("/api/artifacts").json()["items"][0]["has_image"] is False
    assert len(api.get("/api/artifacts").json()["items"]) == 1


def test_without_a_configured_token_writes_are_open(api_settings, start_api):
    client = start_api(api_settings(api_token=None))
    assert client.post("/api/artifacts", json=signal_body()).status_code == 201


def _repair_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "provenant-repair"]


def test_scheduled_repair_starts_and_stops_with_the_app(api_settings):
    app = create_app(configure(api_settings(repair_interval_seconds=3600)))
    try:
        with TestClient(app) as client:
            assert client.get("/api/health").status_code == 200
            assert len(_repair_threads()) == 1
        assert _repair_threads() == []
    finally:
        reset_services()
