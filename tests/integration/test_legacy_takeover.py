"""Taking over the previous system: its table (its own DDL on PostgreSQL) imported whole by the
real CLI, and its DAG client storing, updating and attaching lineage on a real `provenant
serve` (SQLite and PostgreSQL artifact databases)."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import httpx
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from provenant.domain.artifacts import NewArtifact
from tests.support.environment import require_postgres
from tests.support.cli import cli, serve, stop, wait_healthy
from tests.support.image_server import image_server
from tests.support.legacy_client import LegacyDagClient
from tests.support.legacy_dag_rows import (
    EXECUTION, UPDATED, WORKFLOW, LegacyPostgres, bars, dag_rows)
from tests.support.legacy_db import postgres_legacy_url
from tests.support.mlflow_server import free_port

pytestmark = pytest.mark.postgres
IDS = list(range(21, 31))


def image(kind: str, color=(20, 90, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 10), color).save(buf, kind)
    return buf.getvalue()


@pytest.fixture
def old_system(tmp_path):
    """(legacy DB URL as the old system wrote it, MinIO base, the served and mapped images)."""
    charts = tmp_path / "old-charts"
    charts.mkdir()
    jpeg, png = image("JPEG"), image("PNG")
    (charts / "TSLA_1W_20251115_135431.jpeg").write_bytes(jpeg)
    (charts / "TSLA_1D_20251115_135431.html").write_text("<html><div>plotly</div></html>")
    with image_server() as (minio, files), postgres_legacy_url(require_postgres()) as url:
        files[f"/trading-charts/charts/TSLA/daily/20251115_135431.png"] = (200, png, {})
        files[f"/trading-charts/charts/TSLA/weekly/20251115_135431.png"] = (200, png, {})
        LegacyPostgres(url).add(*dag_rows(minio)).close()
        # The old system's own URL names psycopg2, which is not installed here.
        yield (url.replace("postgresql+psycopg://", "postgresql+psycopg2://"), minio,
               {"png": png, "jpeg": jpeg, "charts": charts})


def import_args(url: str, minio: str, charts, *extra: str) -> list[str]:
    return ["artifacts", "import-legacy", "--from", url, "--json",
            "--image-path-map", f"/app/charts={charts}",
            "--fetch-images-from", f"{minio}/trading-charts/", *extra]


def test_the_whole_table_imports_with_images_and_again_idempotently(services, old_system):
    url, minio, files = old_system
    result = cli(services, *import_args(url, minio, files["charts"]))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == IDS and report["failed"] == [] and report["skipped"] == []
    assert [w["id"] for w in report["warnings"]] == [23]
    assert "HTML" in report["warnings"][0]["reason"]

    repo, blobs = services.artifacts, services.blobs
    daily = repo.get(21)
    assert blobs.get(repo.image_of(21)[0]) == files["png"]
    assert blobs.get(repo.image_of(22)[0]) == files["jpeg"]  # container path, mapped
    assert repo.image_of(30) is not None and not repo.get(23).has_image
    assert (daily.payload["prompt"], daily.payload["model_name"]) == (
        "Analyze TSLA daily and weekly charts with technical indicators.", "gpt-4o")
    assert daily.updated_at == UPDATED and daily.execution_id == EXECUTION
    snapshot = daily.payload["metadata"]["market_data_snapshot"]
    assert snapshot["bars"] == bars(250) and snapshot["ibkr_connection"]["port"] == 4002
    signal = repo.get(25)
    assert signal.payload["confidence"] == 0.72 and isinstance(signal.payload["confidence"],
                                                               float)
    order, trade, portfolio = repo.get(26), repo.get(27), repo.get(28)
    assert (order.type, order.payload["side"], order.payload["quantity"],
            order.payload["order_type"]) == ("order", "BUY", 10, "LMT")
    assert (trade.type, trade.payload["side"], trade.payload["legacy_side"],
            trade.payload["price"]) == ("trade", "BUY", "BOT", 251.28)
    assert portfolio.type == "portfolio" and portfolio.payload["positions"][0]["quantity"] == 10
    market = repo.get(29)
    assert market.type == "market_data" and market.payload["metadata"]["ibkr_port"] == 4002

    again = cli(services, *import_args(url, minio, files["charts"]))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped"] == IDS and repo.count() == len(IDS)


def test_an_id_held_by_a_different_artifact_is_a_conflict(services, old_system):
    url, minio, files = old_system
    mine = services.artifacts.add(NewArtifact(
        id=24, type="signal", name="a Provenant signal", payload={"action": "SELL",
                                                                  "confidence": 0.4},
        created_at=datetime(2026, 1, 2, tzinfo=UTC)))
    dry = cli(services, *import_args(url, minio, files["charts"], "--dry-run"))
    assert dry.returncode == 1
    report = json.loads(dry.stdout)
    assert report["dry_run"] and [f["id"] for f in report["failed"]] == [24]
    assert "conflict" in report["failed"][0]["reason"] and "ids held by different" in dry.stderr
    assert services.artifacts.count() == 1  # a dry run writes nothing

    real = cli(services, *import_args(url, minio, files["charts"]))
    assert real.returncode == 1 and "24" in real.stderr.splitlines()[-1]
    assert json.loads(real.stdout)["imported"] == [i for i in IDS if i != 24]
    assert services.artifacts.get(24) == mine  # nothing of the old row 24 was written


def test_the_old_dag_client_works_against_provenant_serve(tmp_path, database_url, mlflow_uri):
    png = image("PNG")
    with image_server() as (minio, files):
        files["/trading-charts/charts/TSLA/daily/a.png"] = (200, png, {})
        port = free_port()
        proc = serve(tmp_path, "--no-mlflow-ui", "--port", str(port),
                     PROVENANT_DATABASE_URL=database_url, PROVENANT_AUTO_MIGRATE="1",
                     PROVENANT_MLFLOW_TRACKING_URI=mlflow_uri,
                     PROVENANT_REPAIR_INTERVAL_SECONDS="0",
                     PROVENANT_IMAGE_FETCH_PREFIXES=f"{minio}/trading-charts/")
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(f"{base}/api/health", proc)
            warm_up(base)
            ids = run_the_old_dag(LegacyDagClient(base), minio, mlflow_uri)
            check_what_the_old_pages_read(base, ids, png)
        finally:
            code, output = stop(proc)
    assert code == 0, output


def warm_up(base: str) -> None:
    """The first store-time MLflow lookup loads MLflow in the server; not the old client's
    10 s budget to pay."""
    answer = httpx.post(f"{base}/api/artifacts", timeout=120, json={
        "type": "signal", "name": "warm-up", "workflow_id": WORKFLOW, "execution_id": "warm-up",
        "payload": {"action": "HOLD", "confidence": 0.5}})
    assert answer.status_code == 201, answer.text


def run_the_old_dag(client: LegacyDagClient, minio: str, mlflow_uri: str) -> dict[str, int]:
    """The old DAG's calls in its order: store, PATCH LLM context onto charts, attach lineage."""
    context = {"workflow_id": WORKFLOW, "execution_id": EXECUTION, "dag_id": WORKFLOW}
    made = {
        "daily": client.store_artifact(
            "TSLA Daily Chart", "chart", symbol="TSLA", chart_type="daily",
            image_path=f"{minio}/trading-charts/charts/TSLA/daily/a.png",
            step_name="generate_daily_chart", chart_data={"indicators": ["SMA_20"]},
            metadata={"market_data_snapshot": {"bars": bars(50), "ibkr_connection":
                                               {"port": 4002}}}, **context),
        "weekly": client.store_artifact(
            "TSLA Weekly Chart", "chart", symbol="TSLA", chart_type="weekly",
            image_path="/app/charts/TSLA_1W_20251115.jpeg", step_name="generate_weekly_chart",
            **context),
        "llm": client.store_artifact("TSLA LLM Analysis", "llm", symbol="TSLA",
                                     prompt="Analyze TSLA", response="Bullish.",
                                     model_name="gpt-4o", step_name="analyze_with_llm",
                                     **context),
        "signal": client.store_artifact("TSLA BUY Signal", "signal", symbol="TSLA",
                                        action="BUY", confidence=0.72,
                                        signal_data={"confidence_score": 72.0}, **context),
        "order": client.store_order_artifact("TSLA BUY Order", "TSLA", "17", "LMT", "BUY", 10,
                                             "Submitted", **context),
        "trade": client.store_trade_artifact("TSLA Trade Execution", "TSLA", "e.1", "17", 10,
                                             251.28, "BOT", **context),
        "portfolio": client.store_portfolio_artifact(
            "Portfolio Snapshot", "DU1234567", 100250.5, 97737.7,
            [{"symbol": "TSLA", "quantity": 10}], **context),
    }
    assert all(made.values()), (client.last_status, client.last_body)
    ids = {name: artifact["id"] for name, artifact in made.items()}
    for chart in ("daily", "weekly"):
        assert client.update_artifact(ids[chart], {
            "prompt": "Analyze TSLA", "response": "Bullish.", "model_name": "gpt-4o",
            "prompt_length": 12, "response_length": 8,
            "metadata": {"llm_analysis": {"action": "BUY"}}}), client.last_body
    mlflow = MlflowClient(mlflow_uri)
    experiment = mlflow.create_experiment("ibkr-trading")
    run = mlflow.create_run(experiment, tags={"workflow_id": WORKFLOW,
                                              "execution_id": EXECUTION})
    client.attach_artifact_lineage(list(ids.values()), run.info.run_id, experiment)
    assert client.last_status == 200, client.last_body
    ids["run"], ids["experiment"] = run.info.run_id, experiment
    return ids


def check_what_the_old_pages_read(base: str, ids: dict, png: bytes) -> None:
    listed = httpx.get(f"{base}/api/artifacts/", params={"execution_id": EXECUTION}).json()
    assert listed["total"] == 7 and {a["id"] for a in listed["artifacts"]} == {
        ids[k] for k in ("daily", "weekly", "llm", "signal", "order", "trade", "portfolio")}
    daily = httpx.get(f"{base}/api/artifacts/{ids['daily']}").json()
    assert (daily["run_id"], daily["experiment_id"]) == (ids["run"], ids["experiment"])
    assert daily["prompt"] == "Analyze TSLA" and daily["chart_type"] == "daily"
    assert daily["metadata"]["llm_analysis"] == {"action": "BUY"}
    assert daily["metadata"]["market_data_snapshot"]["ibkr_connection"]["port"] == 4002
    assert httpx.get(base + daily["image_path"]).content == png
    window = httpx.get(f"{base}/api/artifacts/{ids['daily']}/market-data").json()
    assert window["count"] == 50
    trade = httpx.get(f"{base}/api/artifacts/{ids['trade']}").json()
    assert (trade["type"], trade["payload"]["side"], trade["action"]) == ("trade", "BUY", "BOT")
    for name in ("daily", "weekly", "llm", "signal", "order", "trade", "portfolio"):
        audit = httpx.get(f"{base}/api/lineage/repairs?artifact_id={ids[name]}").json()
        assert [r["source"] for r in audit["items"]] == ["attach"], name
