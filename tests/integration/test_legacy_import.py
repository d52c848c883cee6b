"""Legacy import from real SQLite and PostgreSQL sources into both artifact databases."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from provenant import runtime
from provenant.bootstrap import configure, reset_services
from provenant.store.legacy import LegacySourceError
from tests.support.cli import cli
from tests.support.legacy_db import (
    QA_EXECUTION_ID, WORKFLOW, LegacyDb, chart_row, llm_row, postgres_legacy_url,
    signal_row, sqlite_legacy_url)

RUN_ID, EXPERIMENT_ID = "a" * 32, "7"


def png(path) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 8), (10, 120, 40)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def legacy_rows(tmp_path) -> list[dict]:
    """One row of every kind the old system wrote, plus rows that must fail or warn."""
    (tmp_path / "charts").mkdir(exist_ok=True)
    png(tmp_path / "charts" / "tsla_daily.png")
    (tmp_path / "fake.png").write_text("<html>not an image</html>")
    return [
        chart_row(24, image_path="charts/tsla_daily.png"),
        llm_row(25, artifact_metadata={"temperature": 0.2}),
        signal_row(26, action="buy", confidence=0.64),
        signal_row(27, action="BUY", signal_data={"artifact_type": "order", "quantity": 10,
                                                  "order_type": "MKT", "order_id": 991}),
        signal_row(28, action="SELL", signal_data={"artifact_type": "trade", "shares": 5,
                                                   "fill_price": 251.3}),
        signal_row(29, action="HOLD", signal_data={"artifact_type": "portfolio", "cash": 1000.0,
                                                   "positions": [{"symbol": "TSLA", "qty": 5}]}),
        chart_row(30, run_id=RUN_ID, experiment_id=EXPERIMENT_ID, chart_type="weekly",
                  image_path=str(tmp_path / "fake.png")),
        signal_row(31, action="MAYBE"),
        signal_row(32, signal_data={"artifact_type": "order", "quantity": -3}),
        {"id": 33, "type": "table", "name": "unknown kind"},
    ]


@pytest.fixture
def sqlite_services(make_settings, tmp_path, mlflow_uri):
    """Services on SQLite only: for checks that do not depend on the artifact database."""
    services = configure(make_settings(database_url=f"sqlite:///{tmp_path / 'provenant.db'}",
                                       mlflow_tracking_uri=mlflow_uri))
    yield services
    reset_services()


def check_imported(services, report, image: bytes) -> None:
    assert report.imported == [24, 25, 26, 27, 28, 29, 30]
    assert {f.id for f in report.failed} == {31, 32, 33}
    reasons = {f.id: f.reason for f in report.failed}
    assert "action" in reasons[31] and "quantity" in reasons[32] and "table" in reasons[33]
    assert [w.id for w in report.warnings] == [30]

    chart = services.artifacts.get(24)
    assert (chart.type, chart.run_id, chart.execution_id, chart.workflow_id) == (
        "chart", None, QA_EXECUTION_ID, WORKFLOW)
    assert chart.created_at == datetime(2025, 11, 15, 13, 54, 40, tzinfo=UTC)
    assert chart.payload["chart_type"] == "daily"
    assert chart.payload["chart_data"] == {"bars": 60, "indicators": ["sma_20"]}
    assert chart.payload["legacy_image_path"] == "charts/tsla_daily.png"
    assert (chart.step_name, chart.dag_id, chart.task_id) == (
        "generate_daily_chart", WORKFLOW, "generate_daily_chart")
    key, content_type = services.artifacts.image_of(24)
    assert content_type == "image/png" and services.blobs.get(key) == image

    llm = services.artifacts.get(25)
    assert llm.payload["model_name"] == "gpt-4o-mini" and llm.payload["prompt_length"] == 29
    assert llm.payload["metadata"] == {"temperature": 0.2}
    assert services.artifacts.get(26).payload["action"] == "BUY"
    order = services.artifacts.get(27)
    assert order.type == "order" and order.payload["side"] == "BUY"
    assert (order.payload["quantity"], order.payload["order_type"]) == (10, "MKT")
    assert order.payload["order_id"] == 991 and "artifact_type" not in order.payload
    trade = services.artifacts.get(28)
    assert (trade.type, trade.payload["side"], trade.payload["quantity"],
            trade.payload["price"]) == ("trade", "SELL", 5, 251.3)
    portfolio = services.artifacts.get(29)
    assert portfolio.type == "portfolio" and portfolio.payload["cash"] == 1000.0
    assert portfolio.payload["positions"] == [{"symbol": "TSLA", "qty": 5}]
    kept = services.artifacts.get(30)
    assert (kept.run_id, kept.experiment_id, kept.lineage_status) == (
        RUN_ID, EXPERIMENT_ID, "persisted")
    assert not kept.has_image and services.artifacts.get(31) is None


def test_import_from_sqlite_keeps_ids_types_lineage_and_images(services, tmp_path):
    rows = legacy_rows(tmp_path)
    url = sqlite_legacy_url(tmp_path / "legacy.db")
    LegacyDb(url).add(*rows).close()
    report = runtime.import_rows(services, url, images_root=tmp_path)
    check_imported(services, report, (tmp_path / "charts" / "tsla_daily.png").read_bytes())

    again = runtime.import_rows(services, url, images_root=tmp_path)
    assert again.imported == [] and again.skipped == [24, 25, 26, 27, 28, 29, 30]
    assert {f.id for f in again.failed} == {31, 32, 33}
    assert services.artifacts.count() == 7
    # New artifacts continue after the imported ids.
    from provenant.artifacts import store_signal_artifact

    fresh = store_signal_artifact(name="s", symbol="TSLA", action="BUY", confidence=0.5)
    assert fresh.id > 30


@pytest.mark.postgres
def test_import_from_postgres_source(services, tmp_path, postgres_base_url):
    with postgres_legacy_url(postgres_base_url) as url:
        LegacyDb(url).add(*legacy_rows(tmp_path)).close()
        report = runtime.import_rows(services, url, images_root=tmp_path)
        check_imported(services, report, (tmp_path / "charts" / "tsla_daily.png").read_bytes())


def test_cli_reports_json_and_fails_on_bad_rows(sqlite_services, tmp_path):
    url = sqlite_legacy_url(tmp_path / "legacy.db")
    LegacyDb(url).add(chart_row(24), signal_row(31, action="MAYBE")).close()
    result = cli(sqlite_services, "artifacts", "import-legacy", "--from", url, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["imported"] == [24] and [f["id"] for f in report["failed"]] == [31]
    assert "1 legacy row(s) could not be imported" in result.stderr


@pytest.mark.parametrize("make_source, message", [
    (lambda tmp: sqlite_legacy_url(tmp / "missing.db"), "no such SQLite file"),
    (lambda tmp: _empty_sqlite(tmp), "has no `artifacts` table"),
    (lambda tmp: "postgresql+psycopg://postgres@127.0.0.1:9/nowhere", "cannot connect"),
    (lambda tmp: "not a url", "not a database URL"),
])
def test_unusable_sources_are_clear_errors(sqlite_services, tmp_path, make_source, message):
    source = make_source(tmp_path)
    with pytest.raises(LegacySourceError, match=message):
        runtime.import_rows(sqlite_services, source)
    result = cli(sqlite_services, "artifacts", "import-legacy", "--from", source)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def _empty_sqlite(tmp_path) -> str:
    engine = create_engine(sqlite_legacy_url(tmp_path / "other.db"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE something_else (id INTEGER)"))
    engine.dispose()
    return sqlite_legacy_url(tmp_path / "other.db")
