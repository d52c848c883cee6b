"""Repair: `repair_lineage` vs the previous system's one tag search per artifact."""
from __future__ import annotations

import time
import uuid

from sqlalchemy import select

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, Stopwatch
from benchmarks.mlflow_seed import SeededRun, seed_runs
from benchmarks.seed import artifact_rows, bulk_insert, legacy_execution_id
from provenant.bootstrap import Services
from provenant.domain.lineage import Lineage
from provenant import runtime
from provenant.adapters.tracking import EXECUTION_TAG, RunQuery
from provenant.lineage.audit import record_repairs
from provenant.store.tables import artifacts

NAME = "repair"
TITLE = "1. Repair: repair_lineage vs one tag search per artifact"
WORKFLOW = "ibkr_trading_signal_workflow"
RATIO_TARGET = 50.0


def run(ctx: BenchContext) -> BenchResult:
    total, executions = ctx.size(2_000, 20_000, tiny=200), ctx.size(500, 5_000, tiny=50)
    budget = ctx.size(10.0, 180.0, tiny=2.0)
    result = BenchResult(NAME, TITLE, params={
        "artifacts": total, "executions": executions, "baseline_budget_s": budget,
        "older_duplicate_run_every": 10, "artifact_db": "sqlite"})
    execution_ids = [legacy_execution_id(n) for n in range(executions)]
    execution_of = lambda i: execution_ids[i * executions // total]  # noqa: E731
    server = ctx.mlflow_server()
    services = ctx.services(NAME)
    with Stopwatch() as seeding:
        newest = seed_runs(services.tracker.client, server.backend_uri,
                           f"bench-repair-{uuid.uuid4().hex[:8]}", WORKFLOW, execution_ids,
                           duplicates_every=10)
    result.notes.append(f"seeded {len(newest):,} executions' runs (+ older duplicates) in "
                        f"{seeding.seconds:.1f} s by cloning a real run in MLflow's store")

    rows = lambda: artifact_rows(total, workflow_id=WORKFLOW, execution_of=execution_of)  # noqa: E731
    ours_rate, report = _measure_repair(services, rows, newest, "repair_lineage", result)

    baseline = ctx.services(f"{NAME}-baseline")
    bulk_insert(baseline.engine, rows())
    experiment_id = next(iter(newest.values())).experiment_id
    done, calls, seconds = one_search_per_artifact(baseline, experiment_id, budget)
    _check_newest(baseline, newest)
    base_rate = done / seconds
    result.add("one search per artifact", artifacts=done, seconds=seconds,
               artifacts_per_s=base_rate, tracking_calls=calls, calls_per_artifact=calls / done)
    if done < total:
        result.notes.append(f"baseline stopped after its {budget:.0f} s budget at {done:,} of "
                            f"{total:,} artifacts; its rate is measured over those, and the "
                            f"whole backlog would take ~{total / base_rate:,.0f} s and "
                            f"{round(calls / done * total):,} tracking calls")
    ratio = ours_rate / base_rate
    result.add("ratio (ours / baseline)", artifacts_per_s=ratio,
               tracking_calls=round(calls / done * total) / max(report.tracking_calls, 1))
    result.target("repair speed-up", f">= {RATIO_TARGET:.0f}x artifacts/s", ratio >= RATIO_TARGET,
                  f"{ratio:,.0f}x ({ours_rate:,.0f} vs {base_rate:,.1f} artifacts/s)")
    result.target("repair tracking calls", "grow with executions/pages, not artifacts",
                  report.tracking_calls < executions,
                  f"{report.tracking_calls} calls for {total:,} artifacts / {executions:,} "
                  f"executions")
    return result


def _measure_repair(services: Services, rows, newest: dict[str, SeededRun], label: str,
                    result: BenchResult):
    """Load the legacy rows, time repair_lineage with a phase breakdown; check every result."""
    bulk_insert(services.engine, rows())
    marks: dict[str, float] = {}  # when each stage last reported: stages run in order
    with Stopwatch() as wall:
        start = time.perf_counter()
        report = runtime.repair(services, progress=lambda stage, done, total: marks.__setitem__(
            stage, time.perf_counter()))
    total = report.scanned
    if report.errors or len(report.repaired) != total or total == 0:
        raise AssertionError(f"{label} repaired {len(report.repaired)} of {total}: "
                             f"{report.errors}")
    _check_newest(services, newest)
    result.add(label, artifacts=total, seconds=wall.seconds, artifacts_per_s=total / wall.seconds,
               tracking_calls=report.tracking_calls,
               calls_per_artifact=report.tracking_calls / total)
    previous = start
    for stage, phase in (("scan", "find artifacts missing lineage (DB)"),
                         ("resolve", "resolve executions (MLflow)"),
                         ("update", "write lineage + audit rows (DB)")):
        if stage in marks:
            result.add(f"  phase: {phase}", seconds=marks[stage] - previous)
            previous = marks[stage]
    return total / wall.seconds, report


def one_search_per_artifact(services: Services, experiment_id: str,
                            budget_s: float) -> tuple[int, int, float]:
    """The previous system's repair: per artifact, the newest run with its execution id tag
    in the one configured experiment. Writes like repair_lineage (batched, audited), so
    only the lookup strategy differs. Returns (artifacts done, tracking calls, seconds)."""
    tracker, calls_before = services.tracker, services.tracker.calls
    start, done, after = time.perf_counter(), 0, 0
    while time.perf_counter() - start < budget_s:
        page = services.artifacts.missing_lineage(after_id=after, limit=100)
        if not page:
            break
        updates: list[tuple[int, Lineage]] = []
        for artifact in page:
            query = RunQuery(tags=((EXECUTION_TAG, artifact.execution_id),))
            runs = next(tracker.run_pages(query, [experiment_id], page_size=1), [])
            if runs:
                updates.append((artifact.id, runs[0].lineage))
            done += 1
            after = artifact.id
            if time.perf_counter() - start >= budget_s:
                break
        record_repairs(services.artifacts, updates, "repair")
    return done, tracker.calls - calls_before, time.perf_counter() - start


def _check_newest(services: Services, newest: dict[str, SeededRun]) -> None:
    """Every repaired artifact names its execution's newest run, or the numbers mean nothing."""
    with services.engine.connect() as conn:
        rows = conn.execute(select(artifacts.c.execution_id, artifacts.c.run_id)
                            .where(artifacts.c.run_id.is_not(None))).all()
    wrong = [r for r in rows if newest[r.execution_id].run_id != r.run_id]
    if wrong:
        raise AssertionError(f"{len(wrong)} artifacts got a run that is not their newest")
