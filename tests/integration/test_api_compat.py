"""The previous system's clients on today's API: flat POST, PATCH, wide fields, grouping,
market data, stats, the refused DELETE and image URLs (SQLite and PostgreSQL)."""
from __future__ import annotations

import logging

import httpx
import pytest

from provenant.bootstrap import configure
from provenant.http.app import create_app
from tests.support.api import AUTH, WF, LiveServer, log_run, png_bytes
from tests.support.image_server import image_server
from tests.support.legacy_client import LegacyDagClient

EXECUTION = "2025-11-15 13:54:31.981650+00:00"
BARS = [{"date": f"2025-11-{d:02d}T00:00:00", "open": 400.0 + d, "high": 410.0 + d,
         "low": 395.0 + d, "close": 405.5 + d, "volume": 1_000_000 + d} for d in range(1, 6)]


def flat_chart(**extra) -> dict:
    return {"name": "TSLA Daily Chart", "type": "chart", "symbol": "TSLA", "workflow_id": WF,
            "execution_id": EXECUTION, "step_name": "generate_daily_chart",
            "dag_id": WF, "task_id": "generate_daily_chart", "chart_type": "daily",
            "image_path": "/app/charts/TSLA_1D_20251115.png",
            "chart_data": {"indicators": ["SMA_20", "RSI_14"], "timeframe": "daily"},
            "metadata": {"market_data_snapshot": {"bars": BARS, "ibkr_connection":
                                                  {"host": "ibkr-gateway", "port": 4002}}},
            **extra}


def post(api, body, path="/api/artifacts/"):
    return api.post(path, json=body, headers=AUTH)


def test_flat_post_on_both_paths_and_wide_fields_on_read(api):
    created = post(api, flat_chart())
    assert created.status_code == 201, created.text
    chart = created.json()
    assert chart["type"] == "chart" and chart["chart_type"] == "daily"
    assert chart["payload"]["legacy_image_path"] == "/app/charts/TSLA_1D_20251115.png"
    assert chart["image_path"] is None  # a container path is recorded, never read
    assert chart["metadata"]["market_data_snapshot"]["ibkr_connection"]["port"] == 4002
    llm = post(api, {"name": "TSLA LLM Analysis", "type": "llm", "symbol": "TSLA",
                     "prompt": "Analyze TSLA", "response": "Bullish.", "model_name": "gpt-4o"},
               path="/api/artifacts")
    assert llm.status_code == 201, llm.text
    read = api.get(f"/api/artifacts/{llm.json()['id']}/").json()
    assert (read["prompt"], read["response"], read["model_name"]) == (
        "Analyze TSLA", "Bullish.", "gpt-4o")
    assert (read["prompt_length"], read["response_length"]) == (12, 8)
    assert read["payload"]["prompt"] == "Analyze TSLA"  # today's shape is still there


@pytest.mark.parametrize("signal_data, kind, side", [
    ({"artifact_type": "order", "order_id": "17", "order_type": "LMT", "side": "BUY",
      "quantity": 10, "status": "submitted"}, "order", "BUY"),
    ({"artifact_type": "trade", "trade_id": "0001f4e8", "order_id": "17", "quantity": 10,
      "price": 251.3, "side": "BOT"}, "trade", "BUY"),
    ({"artifact_type": "portfolio", "account_id": "DU123456", "positions": []},
     "portfolio", None),
])
def test_signals_marked_as_orders_trades_portfolios_get_their_type(api, signal_data, kind,
                                                                   side):
    body = {"name": f"TSLA {kind}", "type": "signal", "symbol": "TSLA",
            "action": signal_data.get("side", "HOLD"), "confidence": 1.0,
            "signal_data": signal_data}
    created = post(api, body)
    assert created.status_code == 201, created.text
    artifact = created.json()
    assert artifact["type"] == kind and artifact["payload"].get("side") == side
    assert artifact["signal_data"]["artifact_type"] == kind  # as the old pages read it
    if signal_data.get("side") == "BOT":
        assert artifact["payload"]["legacy_side"] == "BOT" and artifact["action"] == "BOT"


@pytest.mark.parametrize("body, status, says", [
    ({"name": "x", "type": "signal", "action": "MAYBE", "confidence": 0.5}, 422, "action"),
    ({"name": "x", "type": "order", "action": "BUY"}, 422, "type"),
    ({"name": "x", "type": "chart", "chart_type": "daily", "colour": "red"}, 422, "colour"),
    ({"name": "x", "type": "chart", "chart_type": "daily",
      "image_path": "http://169.254.169.254/latest/meta-data"}, 422, "not under an allowed"),
    ({"name": "x", "type": "chart", "chart_type": "daily",
      "image_path": "file:///etc/passwd"}, 422, "only http(s)"),
])
def test_bad_flat_bodies_are_refused_with_a_reason(api, body, status, says):
    answer = post(api, body)
    assert answer.status_code == status and says in answer.json()["detail"], answer.text


def test_patch_merges_fields_and_metadata_like_the_old_dag(api):
    chart = post(api, flat_chart()).json()
    patched = api.patch(f"/api/artifacts/{chart['id']}", headers=AUTH, json={
        "prompt": "Analyze TSLA charts", "response": "Uptrend.", "model_name": "gpt-4o",
        "prompt_length": 19, "response_length": 8,
        "metadata": {"llm_analysis": {"action": "BUY", "confidence_score": 72.0}}})
    assert patched.status_code == 200, patched.text
    out = patched.json()
    assert (out["prompt"], out["model_name"], out["chart_type"]) == (
        "Analyze TSLA charts", "gpt-4o", "daily")
    assert out["metadata"]["llm_analysis"]["action"] == "BUY"
    assert out["metadata"]["market_data_snapshot"]["bars"] == BARS  # merged, not replaced
    bad = api.patch(f"/api/artifacts/{chart['id']}/", headers=AUTH, json={"chart_type": ""})
    assert bad.status_code == 422 and "chart_type" in bad.json()["detail"]
    assert api.patch("/api/artifacts/999999", headers=AUTH, json={}).status_code == 404
    assert api.patch(f"/api/artifacts/{chart['id']}", json={"prompt": "x"}).status_code == 401


def test_patch_attaches_lineage_once_with_an_audit_row(api, mlflow_uri):
    run_id, experiment_id = log_run(mlflow_uri, {"workflow_id": WF, "execution_id": "later"})
    chart = post(api, flat_chart(execution_id="not-yet-run")).json()
    assert chart["lineage"]["status"] == "pending"
    url = f"/api/artifacts/{chart['id']}"
    assert api.patch(url, headers=AUTH, json={"run_id": "f" * 32}).status_code == 404
    wrong = api.patch(url, headers=AUTH, json={"run_id": run_id, "experiment_id": "999"})
    assert wrong.status_code == 422 and "belongs to experiment" in wrong.json()["detail"]
    other_exec = api.patch(url, headers=AUTH, json={"run_id": run_id})
    assert other_exec.status_code == 409 and "execution_id" in other_exec.json()["detail"]

    run_id, experiment_id = log_run(mlflow_uri, {"workflow_id": WF,
                                                 "execution_id": "not-yet-run"})
    attached = api.patch(url, headers=AUTH, json={"run_id": run_id,
                                                  "experiment_id": experiment_id})
    assert attached.status_code == 200, attached.text
    assert attached.json()["lineage"]["status"] == "repaired"
    assert api.patch(url, headers=AUTH, json={"run_id": run_id}).status_code == 200  # retry
    audit = api.get(f"/api/lineage/repairs?artifact_id={chart['id']}").json()["items"]
    assert [(a["source"], a["run_id"]) for a in audit] == [("attach", run_id)]

    other, _ = log_run(mlflow_uri, {"workflow_id": WF, "execution_id": "not-yet-run"})
    replaced = api.patch(url, headers=AUTH, json={"run_id": other})
    assert replaced.status_code == 409 and "never replaced" in replaced.json()["detail"]
    assert api.get(url).json()["run_id"] == run_id


def test_list_answers_artifacts_total_and_groups(api):
    # Two charts of e1 under different names: the same name would be the same artifact.
    for n, execution in enumerate(("e1", "e1", "e2")):
        post(api, flat_chart(execution_id=execution, name=f"TSLA chart {n}"))
    post(api, flat_chart(execution_id=None))
    page = api.get("/api/artifacts/?limit=2").json()
    assert page["total"] == 4 and len(page["artifacts"]) == 2
    assert page["artifacts"] == page["items"]
    grouped = api.get("/api/artifacts?group_by=execution_id").json()
    assert grouped["group_count"] == 3
    assert list(grouped["grouped"]) == ["ungrouped", "e2", "e1"]  # newest group first
    assert len(grouped["grouped"]["e1"]) == 2
    assert api.get("/api/artifacts/?execution_id=e1").json()["total"] == 2


def test_market_data_of_a_chart_comes_from_its_market_data_input(api):
    window = {"timeframe": "daily", "provider": "bundled", "first_bar": "2025-11-01",
              "last_bar": "2025-11-03", "bar_count": 3,
              "bars": [{**bar, "close": 500.0 + n} for n, bar in enumerate(BARS[:3])]}
    stored = post(api, {"type": "market_data", "name": "TSLA daily market data",
                        "symbol": "TSLA", "workflow_id": WF, "execution_id": "md-1",
                        "step_name": "generate_daily_chart", "payload": window}).json()
    # The chart also embeds a (different) window, as legacy rows do: its input wins.
    chart = post(api, flat_chart(execution_id="md-1", inputs=[stored["id"]])).json()
    answered = api.get(f"/api/artifacts/{chart['id']}/market-data").json()
    assert answered == {"artifact_id": chart["id"], "symbol": "TSLA", "count": 3,
                        "data": window["bars"], "source": f"artifact {stored['id']}: payload.bars"}
    itself = api.get(f"/api/artifacts/{stored['id']}/market-data").json()
    assert (itself["count"], itself["source"]) == (3, "payload.bars")


def test_market_data_stats_and_refused_delete(api):
    chart = post(api, flat_chart()).json()
    window = api.get(f"/api/artifacts/{chart['id']}/market-data").json()
    assert window["count"] == 5 and window["data"][0]["close"] == 406.5
    assert window["source"] == "payload.metadata.market_data_snapshot.bars"
    llm = post(api, {"name": "a", "type": "llm", "prompt": "p", "response": "r",
                     "model_name": "m"}).json()
    missing = api.get(f"/api/artifacts/{llm['id']}/market-data")
    assert missing.status_code == 404 and "no market data" in missing.json()["detail"]
    stats = api.get("/api/artifacts/stats/summary").json()
    assert stats["total"] == 2 and stats["by_type"]["chart"] == 1
    assert stats["by_type"]["order"] == 0 and stats["by_lineage"]["pending"] == 2
    assert stats["by_symbol"]["TSLA"] == 1
    refused = api.delete(f"/api/artifacts/{chart['id']}", headers=AUTH)
    assert refused.status_code == 405 and "audit evidence" in refused.json()["detail"]
    assert api.delete(f"/api/artifacts/{chart['id']}").status_code == 401
    assert api.get(f"/api/artifacts/{chart['id']}").status_code == 200


@pytest.fixture
def minio():
    """A local HTTP server standing in for MinIO."""
    with image_server() as served:
        yield served


def test_image_urls_are_fetched_only_under_allowed_prefixes(api_settings, start_api, minio):
    base, files = minio
    image = png_bytes()
    files.update({"/trading-charts/charts/TSLA/daily/a.png": (200, image, {}),
                  "/trading-charts/moved.png": (302, b"", {"Location": "http://10.0.0.1/x"}),
                  "/trading-charts/text.png": (200, b"just some text", {}),
                  "/secrets/key.png": (200, image, {})})
    api = start_api(api_settings(image_fetch_prefixes=f"{base}/trading-charts/"))
    stored = post(api, flat_chart(image_path=f"{base}/trading-charts/charts/TSLA/daily/a.png"))
    assert stored.status_code == 201, stored.text
    assert stored.json()["image_path"] == f"/api/artifacts/{stored.json()['id']}/image"
    assert api.get(stored.json()["image_path"]).content == image
    for path, status, says in [("/secrets/key.png", 422, "not under an allowed"),
                               ("/trading-charts/../secrets/key.png", 422, "normal form"),
                               ("/trading-charts/moved.png", 422, "redirect"),
                               ("/trading-charts/text.png", 422, "not an image"),
                               ("/trading-charts/missing.png", 502, "HTTP 404")]:
        answer = post(api, flat_chart(image_path=base + path))
        assert answer.status_code == status and says in answer.json()["detail"], answer.text


def test_a_chart_url_answering_html_is_stored_without_image_and_says_why(
        api_settings, start_api, minio, caplog):
    """The old system's plotly fallback: the old DAG client (no retry on a 4xx) must not lose
    the chart; an URL outside the allowed prefixes is still refused. (`start_api` only resets
    the services afterwards: the old client needs a real server.)"""
    base, files = minio
    files["/trading-charts/charts/TSLA/daily/plot.png"] = (
        200, b"<!DOCTYPE html><html><div id='plotly'></div></html>", {"Content-Type": "text/html"})
    page = f"{base}/trading-charts/charts/TSLA/daily/plot.png"
    app = create_app(configure(api_settings(image_fetch_prefixes=f"{base}/trading-charts/",
                                            api_token=None)))
    with LiveServer(app) as server, caplog.at_level(logging.WARNING, "provenant.api"):
        client = LegacyDagClient(server.url)
        stored = client.store_artifact("TSLA Daily Chart", "chart", symbol="TSLA",
                                       chart_type="daily", image_path=page,
                                       workflow_id=WF, execution_id=EXECUTION)
        assert stored is not None and client.last_status == 201, client.last_body
        assert len(stored["warnings"]) == 1 and "is HTML" in stored["warnings"][0]
        read = httpx.get(f"{server.url}/api/artifacts/{stored['id']}").json()
        assert read["payload"]["legacy_image_path"] == page and read["chart_type"] == "daily"
        assert (read["has_image"], read["image_path"]) == (False, None)
        assert httpx.get(f"{server.url}/api/artifacts/{stored['id']}/image").status_code == 404
        assert "warnings" not in read  # only the POST that stored it reports them

        refused = client.store_artifact("TSLA Weekly Chart", "chart", symbol="TSLA",
                                        chart_type="weekly", image_path=f"{base}/secrets/p.png")
        assert refused is None and client.last_status == 422
        assert "not under an allowed" in client.last_body
    assert any(f"artifact {stored['id']} stored with a warning" in r.getMessage()
               for r in caplog.records)
