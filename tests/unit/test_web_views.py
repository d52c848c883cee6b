"""The web list's query parsing and the drawer's lineage view: pure functions, no app."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provenant.domain.artifacts import Artifact, NewArtifact
from provenant.domain.lineage import LineageStatus
from provenant.http.web.drawer import STATUS_WORDS, body_of, lineage_view
from provenant.http.web.listing import (
    MAX_PAGE_SIZE, PAGE_SIZE, BadListQuery, ListQuery, fetch_page, parse_list_query)
from provenant.http.web.ohlcv import ohlcv_of
from tests.support.fakes import FakeRepository

RUN_ID = "0123456789abcdef0123456789abcdef"
UI = "http://127.0.0.1:5000"


def test_an_empty_query_is_the_first_page_of_everything():
    query = parse_list_query({})
    assert query == ListQuery() and query.limit == PAGE_SIZE
    assert not query.filtered and query.query_string() == ""


def test_filters_are_trimmed_and_kept_in_the_url():
    query = parse_list_query({"type": " signal ", "symbol": "TSLA", "lineage": "pending",
                              "group": "execution", "limit": "20", "execution_id": "a b"})
    assert (query.type, query.symbol, query.lineage, query.limit) == (
        "signal", "TSLA", "pending", 20)
    assert query.filtered
    assert query.query_string(cursor="abc") == (
        "?type=signal&symbol=TSLA&execution_id=a+b&lineage=pending&group=execution"
        "&cursor=abc&limit=20")
    assert query.query_string(limit=PAGE_SIZE, type="") == (
        "?symbol=TSLA&execution_id=a+b&lineage=pending&group=execution")


@pytest.mark.parametrize("params, message", [
    ({"type": "poem"}, "unknown artifact type 'poem'; expected one of chart, llm, signal, "
                       "order, trade, portfolio"),
    ({"lineage": "lost"}, "unknown lineage state 'lost'; expected one of persisted, repaired, "
                          "pending"),
    ({"group": "day"}, "unknown grouping 'day'; expected 'execution'"),
    ({"symbol": "TS\x00LA"}, "filters cannot contain NUL characters"),
    ({"limit": "0"}, f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}"),
    ({"limit": str(MAX_PAGE_SIZE + 1)}, "limit must be a whole number from 1 to"),
    ({"limit": "-5"}, "limit must be a whole number"),
    ({"limit": "ten"}, "limit must be a whole number"),
])
def test_bad_queries_say_what_is_wrong(params, message):
    with pytest.raises(BadListQuery) as raised:
        parse_list_query(params)
    assert str(raised.value).startswith(message)


def test_a_forged_cursor_asks_to_start_again():
    with pytest.raises(BadListQuery, match="invalid cursor: start again from the first page"):
        fetch_page(FakeRepository(), ListQuery(cursor="bm90LWFuLWlk"))


def artifact(run_id: str | None = RUN_ID, experiment_id: str | None = "3",
             execution_id: str | None = "e1", repaired: bool = False,
             repository: FakeRepository | None = None):
    stored = (repository or FakeRepository()).add(NewArtifact(
        type="signal", name="s", payload={"action": "BUY", "confidence": 0.5},
        run_id=run_id, experiment_id=experiment_id, execution_id=execution_id))
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) if repaired else None
    return stored.model_copy(update={"lineage_repaired_at": stamp})


def test_every_status_has_words():
    assert set(STATUS_WORDS) == set(LineageStatus)
    assert [STATUS_WORDS[s] for s in LineageStatus] == [
        "Captured", "Repaired", "Pending", "Unavailable"]


def test_captured_lineage_links_to_the_run():
    view = lineage_view(artifact(), LineageStatus.persisted, UI)
    assert (view.status, view.words, view.run_id, view.experiment_id) == (
        "persisted", "Captured", RUN_ID, "3")
    assert view.url == f"{UI}/#/experiments/3/runs/{RUN_ID}"
    assert view.explanation == "Captured when the artifact was stored."
    assert view.no_link_reason is None


def test_repaired_lineage_says_when():
    view = lineage_view(artifact(repaired=True), LineageStatus.repaired, UI)
    assert view.words == "Repaired"
    assert view.explanation == "Filled in from MLflow on 2026-01-02 03:04:05 UTC."


@pytest.mark.parametrize("execution_id, explanation", [
    ("e1", "No MLflow run has been logged for this execution yet"),
    (None, "This artifact names no workflow execution"),
])
def test_pending_lineage_explains_itself(execution_id, explanation):
    view = lineage_view(artifact(None, None, execution_id), LineageStatus.pending, UI)
    assert view.explanation.startswith(explanation)
    assert (view.url, view.run_id, view.no_link_reason) == (None, None, None)


def test_unavailable_says_to_try_again():
    view = lineage_view(artifact(None, None), LineageStatus.unavailable, UI)
    assert view.words == "Unavailable" and view.explanation.endswith("Try again later.")


def test_ids_that_make_no_safe_link_say_so():
    view = lineage_view(artifact("../../etc/passwd", "3"), LineageStatus.persisted, UI)
    assert view.url is None and view.run_id == "../../etc/passwd"
    assert view.no_link_reason.startswith("The stored run or experiment id is not a valid")


def test_a_page_is_newest_first_with_a_cursor_to_the_next():
    repository = FakeRepository()
    stored = [(RUN_ID, "1"), (None, None), (RUN_ID, "1"), (RUN_ID, "1")]  # the 2nd is pending
    ids = [artifact(*lineage, repository=repository).id for lineage in stored]
    first, cursor = fetch_page(repository, ListQuery(limit=2))
    assert [a.id for a in first] == ids[:1:-1] and cursor
    rest, end = fetch_page(repository, ListQuery(limit=2, cursor=cursor))
    assert [a.id for a in rest] == ids[1::-1] and end is None
    pending, _ = fetch_page(repository, ListQuery(lineage="pending"))
    assert [a.id for a in pending] == [ids[1]]



def test_market_data_bars_become_the_ohlcv_table_and_leave_the_details():
    bars = [{"date": "2024-01-02", "open": 10.5, "high": 11, "low": 0.5, "close": 10.25,
             "volume": 1_234_567}, {"date": "2024-01-03", "open": 10, "high": 12, "low": 9}]
    artifact = Artifact(id=1, type="market_data", name="TSLA daily market data", symbol="TSLA",
                        run_id=None, experiment_id=None, created_at=datetime.now(UTC),
                        payload={"timeframe": "daily", "bar_count": 2, "bars": bars,
                                 "note": "kept"})
    body = body_of(artifact)
    assert body.title == "Market data" and ("Timeframe", "daily") in body.facts
    assert body.extra == [("Note", "kept")] and body.sections == []  # bars shown once
    first, second = ([(c.text, c.key) for c in row] for row in body.ohlcv.rows)
    assert first == [("2024-01-02", "2024-01-02"), ("10.50", "10.5"), ("11.00", "11.0"),
                     ("0.5", "0.5"), ("10.25", "10.25"), ("1,234,567", "1234567.0")]
    assert second[4:] == [("—", ""), ("—", "")]  # absent: a dash, and sorted last
    assert body.ohlcv.caption == "OHLCV bars (2)"


def test_legacy_bars_nested_in_metadata_are_taken_out_where_they_were():
    payload = {"metadata": {"market_data_snapshot": {"bars": [{"t": "2024-01-02", "c": 5}],
                                                     "symbol": "TSLA"}, "bars_note": 1}}
    table, rest = ohlcv_of(payload)
    assert [c.text for c in table.rows[0]][::4] == ["2024-01-02", "5.00"]
    assert rest == {"metadata": {"market_data_snapshot": {"symbol": "TSLA"}, "bars_note": 1}}
    assert ohlcv_of({"bars": []}) == (None, {"bars": []})
