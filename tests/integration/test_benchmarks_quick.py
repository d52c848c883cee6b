"""The benchmarks at tiny sizes: structural results only (never timings)."""
from __future__ import annotations

import pytest

from benchmarks import listing, repair, store_path
from benchmarks.context import BenchContext
from benchmarks.harness import percentile
from provenant.bootstrap import reset_services

pytestmark = pytest.mark.mlflow_server


@pytest.fixture
def ctx(tmp_path, mlflow_server):
    context = BenchContext(mode="tiny", workdir=tmp_path, mlflow=mlflow_server)
    yield context
    context.close()
    reset_services()


def rows_of(result) -> dict[str, dict]:
    assert result.error is None
    return {row.case: row.metrics for row in result.rows}


def test_percentile_interpolates_between_ranks():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert percentile(list(range(101)), 99) == 99


def test_store_path_makes_no_tracking_calls(ctx):
    rows = rows_of(store_path.run(ctx))
    per_store = {case: m["calls_per_store"] for case, m in rows.items()
                 if "calls_per_store" in m}
    assert set(per_store) == {f"{kind}: {mode}" for kind in ("signal", "llm", "chart")
                              for mode in ("context", "explicit")}
    assert all(calls == 0 for calls in per_store.values())


def test_repair_calls_grow_with_pages_not_artifacts(ctx):
    result = repair.run(ctx)
    rows = rows_of(result)
    ours, baseline = rows["repair_lineage"], rows["one search per artifact"]
    assert ours["artifacts"] == 200
    assert ours["tracking_calls"] <= 5  # a few pages for 50 executions, 200 artifacts
    assert baseline["calls_per_artifact"] == 1.0
    assert baseline["tracking_calls"] == baseline["artifacts"] > 0


def test_listing_keyset_and_offset_pages_are_measured_on_sqlite(ctx):
    rows = rows_of(listing.run(ctx))
    sqlite_cases = [case for case in rows if case.startswith("sqlite: ")]
    assert len(sqlite_cases) == 8  # 6 paging cases + 2 lineage-state filters
    assert all(rows[case]["n"] >= 5 for case in sqlite_cases)


def test_provenance_walks_a_seeded_chain(tmp_path):
    from benchmarks import provenance

    context = BenchContext(mode="tiny", workdir=tmp_path)
    try:
        rows = rows_of(provenance.run(context))
    finally:
        context.close()
    assert rows["sqlite: chain of one signal"] == {"nodes": 4, "edges": 3}
    assert rows["postgresql: chain of one signal"] == {"nodes": 4, "edges": 3}
    assert rows["sqlite: GET provenance (service call, up)"]["n"] >= 20
