"""Provenance at scale: the upstream chain of one signal among many artifacts (#16)."""
from __future__ import annotations

import random

from sqlalchemy import insert

from benchmarks.backends import on_each_backend, targets_below
from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, Stopwatch, latency_summary, time_calls
from benchmarks.seed import artifact_rows, bulk_insert, legacy_execution_id
from provenant.adapters.blobs import LocalBlobStore
from provenant.service.provenance import provenance
from provenant.store.database import create_db_engine, ensure_schema
from provenant.store.repository import ArtifactRepository
from provenant.store.tables import artifact_inputs

NAME = "provenance"
TITLE = "6. Provenance: the chain of one signal among many artifacts"
P99_TARGET_MS = 10.0
STEPS = 4  # seed.artifact_rows: daily chart, weekly chart, llm, signal per execution


def run(ctx: BenchContext) -> BenchResult:
    count = ctx.size(50_000, 1_000_000, tiny=400)
    result = BenchResult(NAME, TITLE, params={"artifacts": count})
    worst = on_each_backend(ctx, NAME, result, lambda backend, database_url:
                            _measure(ctx, backend, database_url, count, result))
    targets_below(result, worst, "provenance p99", f"< {P99_TARGET_MS:.0f} ms", P99_TARGET_MS,
                  "p99 {:.2f} ms")
    return result


def _edges(count: int):
    """llm <- both charts, signal <- llm, for every execution of four artifacts."""
    for first in range(1, count - STEPS + 2, STEPS):
        daily, weekly, llm, signal = first, first + 1, first + 2, first + 3
        yield from ({"artifact_id": llm, "input_id": daily, "inferred": False},
                    {"artifact_id": llm, "input_id": weekly, "inferred": False},
                    {"artifact_id": signal, "input_id": llm, "inferred": False})


def _seed(engine, count: int) -> int:
    """Bulk-load `count` workflow-shaped artifacts and their edges; how many edges."""
    rows = artifact_rows(count, workflow_id="ibkr_trading_signal_workflow",
                         execution_of=lambda i: legacy_execution_id(i // STEPS))
    bulk_insert(engine, rows)
    edges = list(_edges(count))
    with engine.begin() as conn:
        for start in range(0, len(edges), 20_000):
            conn.execute(insert(artifact_inputs), edges[start:start + 20_000])
    return len(edges)


def _measure(ctx: BenchContext, backend: str, database_url: str, count: int,
             result: BenchResult) -> float:
    """Seed, then time the walk up from random signals; p99 in ms."""
    engine = create_db_engine(database_url)
    ensure_schema(engine, True)
    try:
        with Stopwatch() as seeding:
            edges = _seed(engine, count)
        result.notes.append(f"{backend}: seeded {count:,} artifacts and {edges:,} edges "
                            f"in {seeding.seconds:.1f} s")
        repository = ArtifactRepository(engine)
        blobs = LocalBlobStore(ctx.workdir / NAME / "blobs")
        signals = list(range(STEPS, count + 1, STEPS))
        rng = random.Random(16)
        chain = provenance(repository, blobs, signals[-1])
        result.add(f"{backend}: chain of one signal", nodes=len(chain.nodes),
                   edges=len(chain.edges))
        samples = time_calls(lambda: provenance(repository, blobs, rng.choice(signals)),
                             min_samples=ctx.size(200, 1000, tiny=20),
                             max_samples=ctx.size(2000, 10000, tiny=50),
                             budget_s=ctx.size(2.0, 10.0, tiny=0.2))
        summary = latency_summary(samples)
        result.add(f"{backend}: GET provenance (service call, up)", **summary)
        return summary["p99_ms"]
    finally:
        engine.dispose()
