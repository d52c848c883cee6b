"""The drawer of an imported artifact: the previous system's nested metadata as collapsible
key/value sections, its bar list as a table, identifiers and ports as written (Chromium)."""
from __future__ import annotations

import pytest

from provenant.domain.artifacts import NewArtifact
from tests.support.browser import null_words_in, serve_app
from tests.support.legacy_dag_rows import bars

pytestmark = pytest.mark.browser


@pytest.fixture
def imported_chart(sqlite_services):
    """(base URL, id) of a chart shaped as the legacy import leaves it, in a served app."""
    services = sqlite_services
    chart = services.artifacts.add(NewArtifact(
        type="chart", name="TSLA Daily Chart", symbol="TSLA", payload={
            "chart_type": "daily", "legacy_image_path": "/app/charts/TSLA_1D.png",
            "chart_data": {"indicators": ["SMA_20", "RSI_14"], "bars_count": 250},
            "metadata": {"market_data_snapshot": {
                "symbol": "TSLA", "bar_count": 250, "bars": bars(250),
                "ibkr_connection": {"host": "ibkr-gateway", "port": 4002, "client_id": 1234}},
                "indicator_summary": {"sma_20": 251.2, "rsi_14": 61.3}}}))
    with serve_app(services) as base:
        yield base, chart.id


def test_nested_metadata_reads_as_sections_and_a_bar_table(page, imported_chart):
    base, artifact_id = imported_chart
    page.goto(f"{base}/artifacts/{artifact_id}")
    drawer = page.locator(".drawer")
    metadata = drawer.locator("[data-testid=section-details-metadata]")
    snapshot = metadata.locator("[data-testid=section-details-metadata-market_data_snapshot]")
    connection = snapshot.locator(
        "[data-testid=section-details-metadata-market_data_snapshot-ibkr_connection]")
    assert metadata.evaluate("el => el.open") is False  # collapsed until asked for
    assert not snapshot.is_visible()

    metadata.locator(":scope > summary").click()
    snapshot.locator(":scope > summary").click()
    connection.locator(":scope > summary").click()
    assert connection.locator("dd").all_inner_texts() == ["ibkr-gateway", "4002", "1234"]
    table = snapshot.locator("[data-testid=records-table]")
    assert table.locator("thead th").all_inner_texts() == [
        "Date", "Open", "High", "Low", "Close", "Volume"]
    assert table.locator("tbody tr").count() == 250
    assert table.locator("caption").inner_text() == "Bars (250)"
    first = table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first[1:5] == ["250", "255.5", "248.25", "252.75"]
    assert first[5] == "80,000,000"  # a quantity keeps its separators; identifiers do not

    text = drawer.inner_text()
    assert "4,002" not in text and "Date: " not in text  # no wall of flattened text
    assert "SMA_20, RSI_14" in drawer.locator(
        "[data-testid=section-details-chart_data]").text_content()
    assert null_words_in(drawer) == []
