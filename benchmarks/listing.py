"""Listing at scale: keyset page latency at the first and deep pages vs OFFSET paging."""
from __future__ import annotations

from sqlalchemy import select

from benchmarks.backends import on_each_backend, targets_below
from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, Stopwatch, latency_summary, time_calls
from benchmarks.seed import artifact_rows, bulk_insert, legacy_execution_id
from provenant.store.database import create_db_engine, ensure_schema
from provenant.store.repository import ArtifactRepository, _to_artifact, encode_cursor
from provenant.store.tables import artifacts

NAME = "listing"
TITLE = "5. Listing at scale: keyset vs OFFSET paging"
PAGE = 50
KEYSET_TARGET_MS = 25.0


def run(ctx: BenchContext) -> BenchResult:
    count = ctx.size(50_000, 1_000_000, tiny=2_000)
    result = BenchResult(NAME, TITLE, params={"artifacts": count, "page_size": PAGE})
    worst_keyset = on_each_backend(ctx, "listing", result, lambda backend, database_url:
                                   _measure(ctx, backend, database_url, count, result))
    targets_below(result, worst_keyset, "keyset p99",
                  f"< {KEYSET_TARGET_MS:.0f} ms at any depth", KEYSET_TARGET_MS,
                  "worst p99 {:.1f} ms")
    return result


def _measure(ctx: BenchContext, backend: str, database_url: str, count: int,
             result: BenchResult) -> float:
    """Seed `count` rows, time each paging case; return the worst keyset p99 in ms."""
    engine = create_db_engine(database_url)
    try:
        ensure_schema(engine, True)
        with Stopwatch() as seeding:
            bulk_insert(engine, artifact_rows(
                count, workflow_id="ibkr_trading_signal_workflow",
                execution_of=lambda i: legacy_execution_id(i // 4),
                lineage_of=lambda i: (f"{i // 4:032x}", "1")))
        result.notes.append(f"{backend}: bulk-loaded {count:,} rows in {seeding.seconds:.1f} s "
                            f"({count / seeding.seconds:,.0f} rows/s)")
        repo = ArtifactRepository(engine)
        deep = int(count * 0.9)  # rows skipped before the deep page
        # Keyset cursor for "the page after `deep` rows": ids run count..1, newest first.
        deep_cursor, last_cursor = encode_cursor(count - deep + 1), encode_cursor(PAGE + 1)
        budget = ctx.size(1.0, 8.0, tiny=0.1)
        cases = {
            "keyset first page": lambda: repo.list(limit=PAGE),
            f"keyset page at depth {deep:,}": lambda: repo.list(limit=PAGE, cursor=deep_cursor),
            "keyset last page": lambda: repo.list(limit=PAGE, cursor=last_cursor),
            f"keyset symbol=TSLA at depth {deep // 6:,}": lambda: repo.list(
                limit=PAGE, symbol="TSLA", cursor=encode_cursor(count - deep + 1)),
            # No row is pending or repaired here: the filter must not walk every row.
            "keyset lineage=pending (none pending)": lambda: repo.list(limit=PAGE,
                                                                       lineage="pending"),
            "keyset lineage=repaired (none repaired)": lambda: repo.list(limit=PAGE,
                                                                         lineage="repaired"),
            "offset first page": lambda: _offset_page(engine, 0),
            f"offset page at depth {deep:,}": lambda: _offset_page(engine, deep),
        }
        _check_same_page(repo, engine, deep, deep_cursor)
        worst = 0.0
        for case, fn in cases.items():
            slow = case.startswith("offset") and "depth" in case
            samples = time_calls(fn, min_samples=5 if slow else 50,
                                 max_samples=200 if slow else 1000, budget_s=budget)
            stats = latency_summary(samples)
            result.add(f"{backend}: {case}", **stats)
            if case.startswith("keyset"):
                worst = max(worst, stats["p99_ms"])
        return worst
    finally:
        engine.dispose()


def _offset_page(engine, offset: int) -> list:
    """The baseline: the same page by LIMIT/OFFSET, converted like the repository does."""
    query = select(artifacts).order_by(artifacts.c.id.desc()).limit(PAGE).offset(offset)
    with engine.connect() as conn:
        return [_to_artifact(row) for row in conn.execute(query).all()]


def _check_same_page(repo: ArtifactRepository, engine, deep: int, cursor: str) -> None:
    """Keyset and offset must return the same rows, or the comparison means nothing."""
    keyset, _ = repo.list(limit=PAGE, cursor=cursor)
    offset = _offset_page(engine, deep)
    if [a.id for a in keyset] != [a.id for a in offset] or len(keyset) != PAGE:
        raise AssertionError("keyset and offset pages differ")
