"""Access: with PROVENANT_API_TOKEN set every write needs it, the token never reaches a log,
and deep links start only from http(s) MLflow UI URLs with ids checked first."""
from __future__ import annotations

import os

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from provenant.http.app import create_app
from provenant.bootstrap import configure, reset_services
from provenant.config import Settings
from provenant.domain.lineage import Lineage, mlflow_run_url
from tests.support.api import (
    AUTH, READ_METHODS, TOKEN, concrete, png_bytes, signal_body, writes_with_a_chart)
from tests.support.cli import serve, stop, wait_healthy
from tests.support.mlflow_server import free_port

RUN_ID = "0123456789abcdef0123456789abcdef"
# Ways to get the token wrong, some of them carrying the real token.
WRONG_AUTHORIZATION = [None, "Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
                       TOKEN, f"Basic {TOKEN}", f"Token {TOKEN}", "Bearer", "Bearer ",
                       f"Bearer{TOKEN}"]


@pytest.fixture(autouse=True)
def _forget_services():
    yield
    reset_services()


# A body each write route would accept, one it could not parse, and one over the size limit.
BODIES = {"valid": None, "malformed": b"{not json", "oversized": b"x" * 20_000}


def test_every_write_route_answers_401_without_the_right_token(api_settings):
    with writes_with_a_chart(api_settings, 4096) as (services, client, routes, chart):
        valid = {"/api/artifacts": signal_body(), "/api/lineage/repair": {"dry_run": False}}
        answers = []
        for (method, path), authorization, (kind, raw) in [
                (route, auth, body) for route in routes for auth in WRONG_AUTHORIZATION
                for body in BODIES.items()]:
            headers = {"Authorization": authorization} if authorization is not None else {}
            if raw is None and path in valid:
                answer = client.request(method, concrete(path, chart["id"]), json=valid[path],
                                        headers=headers)
            else:
                content = png_bytes() if raw is None else raw
                answer = client.request(method, concrete(path, chart["id"]), content=content,
                                        headers=headers)
            answers.append(((method, path, authorization, kind), answer))
        # Reads stay open; a write with the token goes through.
        assert client.get("/api/artifacts").status_code == 200
        assert client.post("/api/artifacts", json=signal_body(),
                           headers={"Authorization": f"bearer {TOKEN}"}).status_code == 201

    for request, answer in answers:
        assert answer.status_code == 401, (request, answer.status_code, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "token" in answer.json()["detail"] and TOKEN not in answer.text
    assert len(answers) == len(routes) * len(WRONG_AUTHORIZATION) * len(BODIES)
    assert services.artifacts.count() == 2  # the chart and the authorised signal only
    assert services.artifacts.get(chart["id"]).has_image is False
    assert services.artifacts.repairs() == []


def test_a_method_no_route_has_is_refused_without_the_token_too(api_settings):
    with TestClient(create_app(configure(api_settings()))) as client:
        # PATCH exists (field updates and lineage attach); DELETE exists only to refuse (405).
        for method in ("DELETE", "PUT", "POST"):
            assert client.request(method, "/api/artifacts/1").status_code == 401, method
            assert client.request(method, "/api/artifacts/1",
                                  headers=AUTH).status_code == 405, method


def test_the_token_never_reaches_a_log(tmp_path, fork_server):
    token = f"s3cret-{os.urandom(8).hex()}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(tmp_path, "--port", str(port), "--no-mlflow-ui", PROVENANT_API_TOKEN=token,
                   PROVENANT_REPAIR_INTERVAL_SECONDS="0")
    try:
        wait_healthy(f"{url}/api/health", server)
        right = {"Authorization": f"Bearer {token}"}
        # The first write creates the MLflow store and imports MLflow: on a busy machine that
        # takes longer than httpx's 5 s default.
        created = httpx.post(f"{url}/api/artifacts", headers=right, json=signal_body(
            type="chart", name="c", payload={"chart_type": "daily"}), timeout=120)
        statuses = [created.status_code]
        for authorization in (f"Basic {token}", f"Bearer {token}x", token, "Bearer wrong"):
            statuses.append(httpx.post(f"{url}/api/artifacts", json=signal_body(),
                                       headers={"Authorization": authorization}).status_code)
        image = f"{url}/api/artifacts/{created.json()['id']}/image"
        statuses += [httpx.put(image, content=b"not an image", headers=right).status_code,
                     httpx.put(image, content=png_bytes(), headers=right).status_code,
                     httpx.post(f"{url}/api/lineage/repair", headers=right).status_code,
                     httpx.post(f"{url}/api/lineage/repair", json={"dry_run": True},
                                headers={"Authorization": f"Basic {token}"}).status_code,
                     httpx.post(f"{url}/api/artifacts", content=b"{broken", headers={
                         **right, "Content-Type": "application/json"}).status_code]
    finally:
        code, served_log = stop(server)
    assert statuses == [201, 401, 401, 401, 401, 422, 200, 200, 401, 422]
    assert '"POST /api/artifacts HTTP/1.1" 401' in served_log  # the access log was captured
    assert "lineage_repair_finished" in served_log
    assert token not in served_log

    # The CLI, with the token in its environment: a command that works and ones that fail.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVENANT_", "MLFLOW_"))}
    env.update(PROVENANT_HOME=str(tmp_path / "home"), PROVENANT_API_TOKEN=token)
    runs = [(["lineage", "repair", "--json"], {}, 0),
            (["lineage", "repairs"], {}, 0),
            (["serve", "--port", str(port)], {"PROVENANT_MLFLOW_UI_URL": "javascript:x"}, 1),
            (["run", "ibkr_trading_signal_workflow", "--symbol", "ZZZZ"], {}, 1),
            (["lineage", "repair"], {"PROVENANT_MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, 1)]
    for number, (args, extra, expected) in enumerate(runs):
        out, err = tmp_path / f"cli{number}.out", tmp_path / f"cli{number}.err"
        pid = fork_server.start(args, {**env, **extra}, out, err)
        assert fork_server.wait(pid) == expected, (args, err.read_text())
        assert token not in out.read_text() + err.read_text(), args
        assert "Traceback" not in err.read_text(), args


@pytest.mark.parametrize("ui_url", [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "data:text/html,x",
    "file:///etc/passwd", "ftp://mlflow.example", "//evil.example", "http:alert(1)",
    "https://", "mlflow.example:5000", "",
])
def test_only_an_http_url_with_a_host_can_be_the_mlflow_ui(ui_url, tmp_path):
    with pytest.raises(ValidationError, match="PROVENANT_MLFLOW_UI_URL must be an http"):
        Settings(home=tmp_path, mlflow_ui_url=ui_url)
    assert mlflow_run_url(ui_url, Lineage(RUN_ID, "1")) is None


@pytest.mark.parametrize("run_id, experiment_id", [
    (RUN_ID + "\n", "1"), (RUN_ID, "1\n"), (RUN_ID[:-1], "1"), (RUN_ID + "0", "1"),
    (RUN_ID[:-1] + "g", "1"), (f" {RUN_ID}", "1"), (RUN_ID, "1/../../x"), (RUN_ID, ""),
    (RUN_ID, "1#x"), (RUN_ID, "1?x=2"), ("../" * 10 + "ab", "1"), (RUN_ID, "e" * 65),
])
def test_a_link_is_built_only_from_well_formed_ids(run_id, experiment_id):
    assert mlflow_run_url("http://127.0.0.1:5000", Lineage(run_id, experiment_id)) is None


def test_links_keep_the_ui_base_path_and_only_name_the_run(tmp_path):
    settings = Settings(home=tmp_path, mlflow_ui_url="https://mlflow.example/team/ui/")
    assert mlflow_run_url(settings.mlflow_ui_url, Lineage(RUN_ID, "7")) == (
        f"https://mlflow.example/team/ui/#/experiments/7/runs/{RUN_ID}")


def test_the_openapi_document_says_which_operations_need_the_token(api_settings):
    with TestClient(create_app(configure(api_settings()))) as client:
        schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["writeToken"]["scheme"] == "bearer"
    needs_token = {(method.upper(), path) for path, operations in schema["paths"].items()
                   for method, operation in operations.items() if "security" in operation}
    everything = {(method.upper(), path) for path, operations in schema["paths"].items()
                  for method in operations}
    assert needs_token == {op for op in everything if op[0] not in READ_METHODS}
    assert ("POST", "/api/lineage/repair") in needs_token

    reset_services()
    with TestClient(create_app(configure(api_settings(api_token=None)))) as client:
        assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})
