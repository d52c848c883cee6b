"""Request bodies, MLflow runs and a live server for the API tests (fixtures: tests/conftest.py)."""
from __future__ import annotations

import io
import threading
import time
import uuid
from contextlib import contextmanager

import uvicorn
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from PIL import Image

from provenant.http.app import create_app
from provenant.bootstrap import configure
from tests.support.mlflow_server import free_port

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WF = "ibkr_trading_signal_workflow"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def png_bytes(color=(200, 30, 30)) -> bytes:
    """A tiny real PNG."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def signal_body(**overrides) -> dict:
    """A valid POST /api/artifacts body for a signal; keywords override fields."""
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


def write_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route that is not a read, as the app itself lists them."""
    return sorted((method, route.path) for route in iter_route_contexts(app.routes)
                  for method in getattr(route, "methods", None) or ()
                  if method not in READ_METHODS)


@contextmanager
def writes_with_a_chart(api_settings, max_body_bytes: int):
    """(services, client, write routes, a stored chart) on an app with this body limit."""
    services = configure(api_settings(max_body_bytes=max_body_bytes))
    app = create_app(services)
    routes = write_routes(app)
    assert {("POST", "/api/artifacts"), ("PUT", "/api/artifacts/{artifact_id}/image"),
            ("POST", "/api/lineage/repair")} <= set(routes)
    with TestClient(app) as client:
        chart = client.post("/api/artifacts", headers=AUTH, json=signal_body(
            type="chart", name="c", payload={"chart_type": "daily"})).json()
        yield services, client, routes, chart


def concrete(path: str, artifact_id: int) -> str:
    """A route's path template filled in with this artifact id."""
    return path.replace("{artifact_id}", str(artifact_id)).replace("{execution_id:path}", "e")


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
