"""POST/GET artifacts, listing, images, executions and the audit log (SQLite and PostgreSQL)."""
from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from provenant.lineage import mlflow_run_context
from tests.support.api import AUTH, WF, png_bytes, signal_body

ODD_EXECUTION = "manual__2026-11-25T10:00:00+00:00 \"it's\" a/b"


def post(api, body, **kwargs):
    return api.post("/api/artifacts", json=body, headers=AUTH, **kwargs)


def test_post_stores_and_get_reads_back(api):
    answer = post(api, signal_body(execution_id=ODD_EXECUTION))
    assert answer.status_code == 201
    created = answer.json()
    assert answer.headers["location"] == f"/api/artifacts/{created['id']}"
    read = api.get(f"/api/artifacts/{created['id']}").json()
    for key in ("id", "type", "name", "symbol", "workflow_id", "execution_id", "step_name",
                "run_id", "experiment_id", "created_at", "payload"):
        assert read[key] == created[key]
    assert read["execution_id"] == ODD_EXECUTION
    assert read["payload"] == {"action": "BUY", "confidence": 0.72}
    assert read["lineage"] == {"status": "pending", "mlflow_run_url": None, "repaired_at": None}


def test_post_resolves_lineage_like_the_store_functions(api, mlflow_uri):
    with mlflow_run_context(workflow_id=WF, execution_id=ODD_EXECUTION) as run:
        pass
    resolved = post(api, signal_body(execution_id=ODD_EXECUTION)).json()
    assert (resolved["run_id"], resolved["experiment_id"]) == (run.run_id, run.experiment_id)
    assert resolved["lineage"]["status"] == "persisted"
    assert resolved["lineage"]["mlflow_run_url"] == (
        f"http://127.0.0.1:5000/#/experiments/{run.experiment_id}/runs/{run.run_id}")
    explicit = post(api, signal_body(workflow_id=None, execution_id=None,
                                     run_id=run.run_id)).json()
    assert explicit["experiment_id"] == run.experiment_id  # looked up from the run id


@pytest.mark.parametrize("body, says", [
    (signal_body(payload={"action": "MAYBE", "confidence": 0.5}), "payload: not a valid signal"),
    (signal_body(payload={"action": "BUY", "confidence": 1.5}), "confidence"),
    (signal_body(type="order", payload={"side": "BUY"}), "quantity"),
    (signal_body(type="llm", payload={"prompt": "p"}), "response"),
    (signal_body(type="chart", payload={}), "chart_type"),
    (signal_body(type="rumour"), "type"),
    (signal_body(name=""), "name"),
    (signal_body(symbol="X" * 40), "symbol"),
    (signal_body(run_id="not-a-run"), "run_id"),
    (signal_body(experiment_id="3"), "experiment_id needs a run_id"),
    (signal_body(id=5), "id: Extra inputs"),
    ({"name": "no type"}, "type: Field required"),
    ([1, 2], "Input should be a valid dictionary"),
])
def test_post_rejects_invalid_artifacts_with_clear_messages(api, body, says):
    answer = post(api, body)
    assert answer.status_code == 422
    assert says in answer.json()["detail"]
    assert api.get("/api/artifacts").json()["items"] == []


def test_post_rejects_malformed_json_and_unknown_runs(api):
    answer = api.post("/api/artifacts", content=b"{not json",
                      headers={**AUTH, "Content-Type": "application/json"})
    assert answer.status_code == 422 and "JSON" in answer.json()["detail"]
    unknown = post(api, signal_body(run_id="0" * 32))
    assert unknown.status_code == 422 and "does not exist" in unknown.json()["detail"]


def test_post_refuses_a_body_over_the_limit(api_settings, start_api):
    client = start_api(api_settings(max_body_bytes=2048))
    big = signal_body(payload={"action": "BUY", "confidence": 0.5, "note": "x" * 4000})
    answer = client.post("/api/artifacts", json=big, headers=AUTH)
    assert answer.status_code == 413 and "2048" in answer.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold for streamed bodies too
        yield b'{"type": "signal", "name": "' + b"x" * 3000 + b'"}'

    streamed = client.post("/api/artifacts", content=chunks(),
                           headers={**AUTH, "Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert client.get("/api/artifacts").json()["items"] == []
    small = client.post("/api/artifacts", json=signal_body(), headers=AUTH)
    assert small.status_code == 201


def test_get_unknown_or_malformed_ids(api):
    assert api.get("/api/artifacts/999").status_code == 404
    assert api.get("/api/artifacts/999").json()["detail"] == "artifact 999 not found"
    for bad in ("abc", "0", "-1", str(2**64)):
        answer = api.get(f"/api/artifacts/{bad}")
        assert answer.status_code == 422, bad
        assert "artifact_id" in answer.json()["detail"]


def test_list_filters_and_pages_without_tracking_calls(api, mlflow_uri):
    from provenant.bootstrap import get_services

    for i, symbol in enumerate(("TSLA", "MSFT", "TSLA", "NVDA", "TSLA")):  # one name each:
        post(api, signal_body(symbol=symbol, execution_id=ODD_EXECUTION,  # a name is a key
                              name=f"{symbol} signal {i}"))
    chart = post(api, signal_body(type="chart", symbol="TSLA", payload={"chart_type": "daily"}))
    tracker = get_services().tracker
    calls = tracker.calls

    everything = api.get("/api/artifacts").json()
    assert [a["id"] for a in everything["items"]] == sorted(
        (a["id"] for a in everything["items"]), reverse=True)
    assert len(everything["items"]) == 6 and everything["next_cursor"] is None
    assert {a["lineage"]["status"] for a in everything["items"]} == {"pending"}

    tsla = api.get("/api/artifacts", params={"symbol": "TSLA", "type": "signal"}).json()
    assert len(tsla["items"]) == 3
    assert api.get("/api/artifacts", params={"type": "chart"}).json()["items"][0]["id"] == \
        chart.json()["id"]
    by_execution = api.get("/api/artifacts", params={"execution_id": ODD_EXECUTION}).json()
    assert len(by_execution["items"]) == 5
    assert api.get("/api/artifacts", params={"workflow_id": "other"}).json()["items"] == []
    assert api.get("/api/artifacts", params={"run_id": "x" * 32}).json()["items"] == []

    seen, cursor = [], None
    while True:
        page = api.get("/api/artifacts", params={"limit": 4, **({"cursor": cursor} if cursor
                                                                else {})}).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["id"] for a in everything["items"]]
    assert tracker.calls == calls  # lists never ask MLflow


@pytest.mark.parametrize("params, status, says", [
    ({"cursor": "not-a-cursor"}, 400, "invalid cursor"),
    ({"cursor": base64.urlsafe_b64encode(b"id:-4").decode()}, 400, "invalid cursor"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 100000}, 422, "limit"),
    ({"type": "rumour"}, 422, "type"),
])
def test_list_rejects_bad_parameters(api, params, status, says):
    answer = api.get("/api/artifacts", params=params)
    assert answer.status_code == status
    assert says in answer.json()["detail"]


def _chart(api) -> int:
    body = signal_body(type="chart", name="TSLA daily", payload={"chart_type": "daily"})
    return post(api, body).json()["id"]


def test_chart_image_upload_and_download_with_cache_headers(api):
    import hashlib

    chart_id, image = _chart(api), png_bytes()
    assert api.get(f"/api/artifacts/{chart_id}/image").status_code == 404
    uploaded = api.put(f"/api/artifacts/{chart_id}/image", content=image, headers=AUTH)
    assert uploaded.status_code == 200
    assert uploaded.json()["has_image"] is True
    assert uploaded.json()["image_url"] == f"/api/artifacts/{chart_id}/image"

    answer = api.get(f"/api/artifacts/{chart_id}/image")
    assert answer.status_code == 200 and answer.content == image
    assert answer.headers["content-type"] == "image/png"
    etag = answer.headers["etag"]
    assert etag == f'"{hashlib.sha256(image).hexdigest()}"'
    assert "max-age" in answer.headers["cache-control"]
    again = api.get(f"/api/artifacts/{chart_id}/image", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert api.get(f"/api/artifacts/{chart_id}/image",
                   headers={"If-None-Match": '"other"'}).status_code == 200

    same = api.put(f"/api/artifacts/{chart_id}/image", content=image, headers=AUTH)
    assert same.status_code == 200  # a retried upload is harmless
    other = api.put(f"/api/artifacts/{chart_id}/image", content=png_bytes((1, 2, 3)),
                    headers=AUTH)
    assert other.status_code == 409
    assert api.get(f"/api/artifacts/{chart_id}/image").content == image


@pytest.mark.parametrize("content, says", [
    (b"<html>not a png</html>", "not an image"),
    (png_bytes()[:30], "does not decode"),
    (b"", "empty body"),
])
def test_image_upload_takes_only_real_images(api, content, says):
    chart_id = _chart(api)
    answer = api.put(f"/api/artifacts/{chart_id}/image", content=content, headers=AUTH)
    assert answer.status_code == 422 and says in answer.json()["detail"]
    assert api.get(f"/api/artifacts/{chart_id}").json()["has_image"] is False


def test_image_upload_errors(api_settings, start_api):
    client = start_api(api_settings(max_body_bytes=1024))
    signal_id = client.post("/api/artifacts", json=signal_body(), headers=AUTH).json()["id"]
    answer = client.put(f"/api/artifacts/{signal_id}/image", content=png_bytes(), headers=AUTH)
    assert answer.status_code == 422 and "only chart artifacts" in answer.json()["detail"]
    assert client.put("/api/artifacts/999/image", content=png_bytes(),
                      headers=AUTH).status_code == 404
    chart_id = _chart(client)
    huge = client.put(f"/api/artifacts/{chart_id}/image", content=b"\x89PNG" + b"0" * 4096,
                      headers=AUTH)
    assert huge.status_code == 413
    assert client.get("/api/artifacts/999/image").status_code == 404


def test_execution_lists_its_artifacts_with_its_run(api):
    with mlflow_run_context(workflow_id=WF, execution_id=ODD_EXECUTION) as run:
        first = post(api, signal_body(execution_id=ODD_EXECUTION)).json()
        second = post(api, signal_body(execution_id=ODD_EXECUTION, symbol="MSFT",
                                       name="MSFT signal")).json()
    post(api, signal_body(execution_id="another"))
    answer = api.get(f"/api/executions/{quote(ODD_EXECUTION, safe='')}")
    assert answer.status_code == 200
    execution = answer.json()
    assert execution["execution_id"] == ODD_EXECUTION
    assert execution["run"]["run_id"] == run.run_id
    assert execution["run"]["experiment_id"] == run.experiment_id
    assert [a["id"] for a in execution["artifacts"]] == [first["id"], second["id"]]
    assert {a["lineage"]["status"] for a in execution["artifacts"]} == {"persisted"}
    missing = api.get(f"/api/executions/{quote('no such one', safe='')}")
    assert missing.status_code == 404 and "no such one" in missing.json()["detail"]


def test_repairs_log_is_empty_until_something_is_repaired(api):
    assert api.get("/api/lineage/repairs").json() == {"items": []}
    assert api.get("/api/lineage/repairs", params={"artifact_id": 5}).json() == {"items": []}
    assert api.get("/api/lineage/repairs", params={"artifact_id": "x"}).status_code == 422


def test_strings_postgres_cannot_store_get_a_4xx(api, database_url):
    refuses_nul = database_url.startswith("postgresql")  # SQLite stores NUL characters
    answer = post(api, signal_body(name="nul\x00byte"))
    assert answer.status_code == (422 if refuses_nul else 201)
    listed = api.get("/api/artifacts", params={"symbol": "nul\x00"})
    assert listed.status_code == (422 if refuses_nul else 200)
    assert "detail" in listed.json() or listed.json()["items"] == []
