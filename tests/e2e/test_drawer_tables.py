"""The drawer's tables in Chromium, on a real workflow run: a market_data artifact's OHLCV
bars (sortable, paged) and a chart's indicator values."""
from __future__ import annotations

import pytest

from provenant.http.web.format import show_number
from provenant.http.web.ohlcv import show_price
from provenant.workflows import run_workflow
from tests.support.browser import null_words_in, serve_app

pytestmark = pytest.mark.browser

WF = "ibkr_trading_signal_workflow"
PAGE_SIZE = 25


@pytest.fixture
def served(sqlite_services, tmp_path, monkeypatch):
    """One workflow execution's artifacts, by type and timeframe, in a served app."""
    monkeypatch.chdir(tmp_path)  # a SQLite MLflow store keeps run files under ./mlruns
    run_workflow(WF, "TSLA", "tables-1", services=sqlite_services)
    stored = {f"{a.type}:{a.payload.get('timeframe', a.payload.get('chart_type', ''))}": a
              for a in sqlite_services.artifacts.by_execution("tables-1")}
    with serve_app(sqlite_services) as url:
        yield url, stored


def visible_column(table, index: int) -> list[str]:
    """The texts of one column in the rows the pager shows."""
    return table.locator("tbody tr:not([hidden])").evaluate_all(
        f"rows => rows.map(r => r.cells[{index}].innerText)")


def test_market_data_bars_sort_by_a_column_and_page(page, served):
    url, stored = served
    window = stored["market_data:daily"]
    bars = window.payload["bars"]
    page.goto(f"{url}/artifacts/{window.id}")
    drawer = page.get_by_role("dialog")
    table = drawer.get_by_test_id("market-data-table")
    status = drawer.get_by_test_id("ohlcv-page-status")
    pages = -(-len(bars) // PAGE_SIZE)
    assert status.inner_text() == f"Rows 1–{PAGE_SIZE} of {len(bars)} (page 1 of {pages})"
    assert table.locator("tbody tr").count() == len(bars) == window.payload["bar_count"]
    assert visible_column(table, 0) == [b["date"] for b in bars[:PAGE_SIZE]]
    assert drawer.get_by_test_id("ohlcv-previous").is_disabled()
    facts = dict(zip(drawer.locator(".facts-market_data dt").all_inner_texts(),
                     drawer.locator(".facts-market_data dd").all_inner_texts()))
    assert facts == {"Timeframe": "daily", "Provider": window.payload["provider"],
                     "First bar": bars[0]["date"], "Last bar": bars[-1]["date"],
                     "Bars": str(len(bars))}

    # Paging shows the next rows, in the same order.
    drawer.get_by_test_id("ohlcv-next").click()
    assert visible_column(table, 0) == [b["date"] for b in bars[PAGE_SIZE:2 * PAGE_SIZE]]
    assert status.inner_text().startswith(f"Rows {PAGE_SIZE + 1}–{2 * PAGE_SIZE} of ")

    # Sorting by close starts again at the first page, lowest close first; again: highest.
    close = table.locator("th[data-column=close]")
    drawer.get_by_test_id("sort-close").click()
    assert close.get_attribute("aria-sort") == "ascending"
    assert table.locator("th[data-column=date]").get_attribute("aria-sort") == "none"
    by_close = sorted(bars, key=lambda b: b["close"])
    assert visible_column(table, 4) == [show_price(b["close"]) for b in by_close[:PAGE_SIZE]]
    assert visible_column(table, 0) != [b["date"] for b in bars[:PAGE_SIZE]]
    assert status.inner_text().startswith(f"Rows 1–{PAGE_SIZE} of ")
    drawer.get_by_test_id("sort-close").click()
    assert close.get_attribute("aria-sort") == "descending"
    assert visible_column(table, 4)[0] == show_price(by_close[-1]["close"])

    # The last page holds the remainder, and Next is then disabled.
    for _ in range(pages - 1):
        drawer.get_by_test_id("ohlcv-next").click()
    assert table.locator("tbody tr:not([hidden])").count() == len(bars) - (pages - 1) * PAGE_SIZE
    assert drawer.get_by_test_id("ohlcv-next").is_disabled()
    assert null_words_in(drawer) == []


def test_a_chart_shows_its_indicators_and_leads_to_its_market_data(page, served):
    url, stored = served
    chart, window = stored["chart:weekly"], stored["market_data:weekly"]
    page.goto(f"{url}/artifacts/{chart.id}")
    drawer = page.get_by_role("dialog")
    rows = drawer.get_by_test_id("indicators-table").get_by_test_id("indicator-row")
    indicators = chart.payload["indicators"]
    assert rows.count() == len(indicators)
    assert rows.filter(has_text="RSI 14").locator("td").inner_text() == show_number(
        indicators["rsi_14"])
    assert rows.filter(has_text="SMA 20").locator("td").inner_text() == show_number(
        indicators["sma_20"])

    # The chain's link opens the window in place (the script's path): it pages there too.
    chain = drawer.get_by_test_id("decision-chain")
    chain.locator(f'a[data-artifact-id="{window.id}"]').click()
    page.wait_for_selector(f'section.drawer[data-artifact-id="{window.id}"]')
    table = page.get_by_test_id("market-data-table")
    shown = min(PAGE_SIZE, window.payload["bar_count"])
    assert table.locator("tbody tr:not([hidden])").count() == shown
    assert page.get_by_test_id("ohlcv-page-status").inner_text().startswith(f"Rows 1–{shown} of ")
    assert table.get_by_role("button", name="Volume").is_visible()


def test_why_this_order_ends_in_the_market_data_windows(page, served):
    url, stored = served
    top = stored.get("order:") or stored["signal:"]  # a HOLD signal places no order
    page.goto(f"{url}/artifacts/{top.id}")
    nodes = page.get_by_test_id("decision-chain").get_by_test_id("chain-node")
    ids = [int(i) for i in nodes.evaluate_all("els => els.map(e => e.dataset.artifactId)")]
    assert set(ids[-2:]) == {stored["market_data:daily"].id, stored["market_data:weekly"].id}
    assert set(nodes.evaluate_all("els => els.map(e => e.dataset.verification)")) == {"verified"}
