"""Legacy takeover at scale: the real `provenant artifacts import-legacy --json` from the
previous system's PostgreSQL table, then the real `provenant lineage repair --json`, each a
subprocess whose peak RSS and CPU come from getrusage of its parent (a small measuring
process); the repair compared with one MLflow search per artifact in the same run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, Stopwatch
from benchmarks.mlflow_seed import seed_runs
from benchmarks.repair import one_search_per_artifact
from benchmarks.seed import EPOCH, SYMBOLS, artifact_rows, bulk_insert, legacy_execution_id
from provenant.store.tables import artifacts

NAME = "legacy_scale"
TITLE = "6. Legacy takeover at scale: import-legacy from PostgreSQL, then lineage repair (CLI)"
WORKFLOW = "ibkr_trading_signal_workflow"
PER_EXECUTION = 4  # two charts, one LLM analysis, one signal, as the old DAG stored them
IMPORT_RATE_TARGET = 20_000.0
RSS_TARGET_MB = 300.0
RATIO_TARGET = 50.0

# The previous system's own DDL (its database/migrations/create_artifacts_table.sql), as the
# legacy-import tests use it.
LEGACY_DDL = (Path(__file__).resolve().parents[1] / "tests" / "support" / "legacy_ddl.sql"
              ).read_text()
LEGACY_COLUMNS = ("id", "name", "type", "symbol", "workflow_id", "execution_id", "step_name",
                  "dag_id", "task_id", "prompt", "response", "prompt_length", "response_length",
                  "model_name", "chart_type", "chart_data", "action", "confidence",
                  "signal_data", "artifact_metadata", "created_at", "updated_at")
_PROMPT = "Analyse the daily and weekly candlestick charts of {s}: trend, RSI, MACD. " * 6
_RESPONSE = "Momentum is positive and volume confirms the breakout above resistance. " * 8
_STEPS = ("generate_daily_chart", "generate_weekly_chart", "analyze_with_llm",
          "generate_signal")


def legacy_rows(count: int) -> Iterator[tuple]:
    """Rows as the old DAG wrote them (no images, no lineage), in LEGACY_COLUMNS order:
    PER_EXECUTION consecutive rows per execution."""
    for offset in range(count):
        i, n = offset + 1, offset // PER_EXECUTION
        step = _STEPS[offset % PER_EXECUTION]
        symbol = SYMBOLS[n % len(SYMBOLS)]
        stamp = EPOCH + timedelta(seconds=i)
        row = dict.fromkeys(LEGACY_COLUMNS)
        row.update(id=i, symbol=symbol, workflow_id=WORKFLOW,
                   execution_id=legacy_execution_id(n), step_name=step, dag_id=WORKFLOW,
                   task_id=step, created_at=stamp, updated_at=stamp,
                   artifact_metadata=json.dumps({"dag_run": legacy_execution_id(n),
                                                 "ib_port": 4002}))
        if offset % PER_EXECUTION < 2:
            chart_type = "daily" if step == "generate_daily_chart" else "weekly"
            row.update(name=f"{symbol} {chart_type} chart", type="chart", chart_type=chart_type,
                       chart_data=json.dumps({"bars": 250, "indicators": ["sma_20", "rsi"]}))
        elif step == "analyze_with_llm":
            prompt = _PROMPT.format(s=symbol)
            row.update(name=f"{symbol} LLM analysis", type="llm", prompt=prompt,
                       response=_RESPONSE, prompt_length=len(prompt),
                       response_length=len(_RESPONSE), model_name="gpt-4o-mini")
        else:
            row.update(name=f"{symbol} trading signal", type="signal",
                       action=("BUY", "SELL", "HOLD")[i % 3], confidence=f"0.{50 + i % 50}",
                       signal_data=json.dumps({"entry": 251.5, "stop_loss": 240.0}))
        yield tuple(row[c] for c in LEGACY_COLUMNS)


def load_legacy(url: str, rows: Iterator[tuple]) -> int:
    """The old DDL, then COPY: how its table would be restored from a dump."""
    engine = create_engine(url)
    raw = engine.raw_connection()
    loaded = 0
    try:
        cursor = raw.cursor()
        cursor.execute(LEGACY_DDL)
        with cursor.copy(f"COPY artifacts ({', '.join(LEGACY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                loaded += 1
        cursor.execute("SELECT setval(pg_get_serial_sequence('artifacts', 'id'), %s)",
                       (max(loaded, 1),))
        raw.commit()
        cursor.execute("ANALYZE artifacts")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return loaded


# Measures one command from a small process of its own: a child forked from this (large)
# benchmark process would report this process's peak as its own (Linux keeps the maximum
# RSS across exec, and subprocess uses vfork), so wait4 here would overstate it. A command
# may start worker processes: their RSS is summed with its own (sampled every 50 ms from
# /proc), and the peak reported is the larger of that sum and getrusage's largest process.
_MEASURE = """
import json, os, resource, subprocess, sys, threading, time

def tree_rss_mb(pid):
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024

start = time.perf_counter()
peak = 0.0
with open(sys.argv[2], "w") as out, open(sys.argv[3], "w") as err:
    proc = subprocess.Popen(sys.argv[4:], stdout=out, stderr=err)
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(proc.pid))
        time.sleep(0.05)
    code = proc.returncode
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as result:
    json.dump({"seconds": seconds, "code": code, "cpu": usage.ru_utime + usage.ru_stime,
               "rss_mb": max(usage.ru_maxrss / 1024, peak)}, result)
"""


def run_cli(args: list[str], env: dict[str, str], out: Path
            ) -> tuple[float, float, float, int, str]:
    """Run `provenant ARGS` with stdout to `out`: (wall seconds, CPU seconds, peak RSS in MB,
    exit code, stderr tail), CPU and peak RSS being the command's own, its worker processes
    included (CPU: getrusage of the measuring process's children; RSS: see _MEASURE)."""
    provenant = str(Path(sys.executable).parent / "provenant")
    err_path, measured = out.with_suffix(".stderr"), out.with_suffix(".measure.json")
    subprocess.run([sys.executable, "-c", _MEASURE, str(measured), str(out), str(err_path),
                    provenant, *args], env=env, check=True)
    m = json.loads(measured.read_text())
    tail = err_path.read_text(errors="replace")[-2000:]
    return m["seconds"], m["cpu"], m["rss_mb"], m["code"], tail


def run(ctx: BenchContext) -> BenchResult:
    # PROVENANT_BENCH_LEGACY_ROWS overrides the mode's size (e.g. the largest that fits).
    total = int(os.environ.get("PROVENANT_BENCH_LEGACY_ROWS")
                or ctx.size(20_000, 1_000_000, tiny=400))
    executions = total // PER_EXECUTION
    budget = ctx.size(10.0, 120.0, tiny=2.0)
    baseline_rows = min(total, ctx.size(4_000, 20_000, tiny=200))
    result = BenchResult(NAME, TITLE, params={
        "legacy_rows": total, "executions": executions, "images": "none",
        "legacy_db": "postgresql (its own DDL)", "artifact_db": "sqlite",
        "older_duplicate_run_every": 10, "baseline_budget_s": budget})
    if ctx.postgres_version() is None:
        result.error = f"PostgreSQL unreachable at {ctx.postgres_base_url}"
        return result
    server = ctx.mlflow_server()
    execution_ids = [legacy_execution_id(n) for n in range(executions)]
    home = ctx.workdir / NAME
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PROVENANT_HOME": str(home),
           "PROVENANT_DATABASE_URL": f"sqlite:///{home / 'provenant.db'}",
           "PROVENANT_MLFLOW_TRACKING_URI": server.url}
    with ctx.postgres_schema() as legacy_url:
        with Stopwatch() as loading:
            load_legacy(legacy_url, legacy_rows(total))
        result.notes.append(f"loaded {total:,} legacy rows into PostgreSQL (its own DDL, COPY) "
                            f"in {loading.seconds:.1f} s")
        # The old system's own URL form: plain postgresql:// (psycopg 3 underneath).
        source = make_url(legacy_url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        _import(result, source, env, home, total)
        _import_with_workers(result, source, env, home, total, workers=0)

    services = ctx.services(f"{NAME}-mlflow-client")
    with Stopwatch() as seeding:
        newest = seed_runs(services.tracker.client, server.backend_uri,
                           f"bench-legacy-{uuid.uuid4().hex[:8]}", WORKFLOW, execution_ids,
                           duplicates_every=10)
    result.notes.append(f"seeded {len(newest):,} executions' runs (+ an older duplicate every "
                        f"10th) in {seeding.seconds:.1f} s by cloning a real run in MLflow's "
                        "store")
    ours_rate = _repair(result, env, home, total, executions, newest)

    baseline = ctx.services(f"{NAME}-baseline")
    bulk_insert(baseline.engine, artifact_rows(
        baseline_rows, workflow_id=WORKFLOW,
        execution_of=lambda i: execution_ids[i * executions // total]))
    experiment_id = next(iter(newest.values())).experiment_id
    done, calls, seconds = one_search_per_artifact(baseline, experiment_id, budget)
    base_rate = done / seconds
    result.add("baseline: one MLflow search per artifact (in process)", rows=done,
               seconds=seconds, rows_per_s=base_rate, tracking_calls=calls)
    ratio = ours_rate / base_rate
    result.add("ratio (repair CLI / baseline)", rows_per_s=ratio)
    result.target("repair speed-up at scale", f">= {RATIO_TARGET:.0f}x artifacts/s",
                  ratio >= RATIO_TARGET,
                  f"{ratio:,.0f}x ({ours_rate:,.0f} vs {base_rate:,.1f} artifacts/s, the "
                  f"baseline over {done:,} artifacts in {seconds:.0f} s)")
    return result


def _import(result: BenchResult, source: str, env: dict[str, str], home: Path,
            total: int) -> None:
    out = home / "import.json"
    seconds, cpu, rss, code, tail = run_cli(["artifacts", "import-legacy", "--from", source,
                                             "--json"], env, out)
    if code != 0:
        raise AssertionError(f"import-legacy exited {code}: {tail}")
    report = json.loads(out.read_text())  # one valid document, or this fails
    imported = report["imported"]
    if (len(imported) != total or imported[:3] != [1, 2, 3] or report["failed"]
            or report["skipped"] or report["total"] != total):
        raise AssertionError(f"import report incomplete: {len(imported)} of {total} imported, "
                             f"{len(report['failed'])} failed")
    rate = total / seconds
    result.add("provenant artifacts import-legacy --json", rows=total, seconds=seconds,
               rows_per_s=rate, cpu_s=cpu, rows_per_cpu_s=total / cpu, peak_rss_mb=rss,
               json_mb=out.stat().st_size / 2**20,
               inferred_edges=report["inferred_edges"])
    result.target("import rate", f">= {IMPORT_RATE_TARGET:,.0f} rows/s",
                  rate >= IMPORT_RATE_TARGET, f"{rate:,.0f} rows/s ({total:,} rows in "
                  f"{seconds:.1f} s, process start included; {total / cpu:,.0f} rows per "
                  "CPU second of the process)")
    result.target("import peak RSS", f"< {RSS_TARGET_MB:.0f} MB", rss < RSS_TARGET_MB,
                  f"{rss:,.0f} MB")


def _import_with_workers(result: BenchResult, source: str, env: dict[str, str], home: Path,
                         total: int, workers: int) -> None:
    """The same import with `workers` processes (0: in one process, reading ahead), into a
    database of its own: a comparison with the default, no target."""
    out = home / f"import-workers-{workers}.json"
    db = home / f"workers-{workers}.db"
    seconds, cpu, rss, code, tail = run_cli(
        ["artifacts", "import-legacy", "--from", source, "--workers", str(workers), "--json"],
        {**env, "PROVENANT_DATABASE_URL": f"sqlite:///{db}"}, out)
    if code != 0:
        raise AssertionError(f"import-legacy --workers {workers} exited {code}: {tail}")
    imported = json.loads(out.read_text())["imported"]
    if len(imported) != total:
        raise AssertionError(f"--workers {workers} imported {len(imported)} of {total}")
    result.add(f"import-legacy --workers {workers} --json", rows=total, seconds=seconds,
               rows_per_s=total / seconds, cpu_s=cpu, rows_per_cpu_s=total / cpu,
               peak_rss_mb=rss, json_mb=out.stat().st_size / 2**20)
    db.unlink()


def _repair(result: BenchResult, env: dict[str, str], home: Path, total: int,
            executions: int, newest: dict) -> float:
    out = home / "repair.json"
    seconds, cpu, rss, code, tail = run_cli(["lineage", "repair", "--json"], env, out)
    if code != 0:
        raise AssertionError(f"lineage repair exited {code}: {tail}")
    report = json.loads(out.read_text())
    repaired = report["repaired"]
    if (report["scanned"] != total or len(repaired) != total or report["unresolved"]
            or report["errors"] or report["executions"] != executions):
        raise AssertionError(f"repair report incomplete: scanned {report['scanned']}, "
                             f"repaired {len(repaired)} of {total}: {report['errors']}")
    _check_newest(env["PROVENANT_DATABASE_URL"], newest, total)
    rate = total / seconds
    result.add("provenant lineage repair --json", rows=total, seconds=seconds,
               rows_per_s=rate, cpu_s=cpu, rows_per_cpu_s=total / cpu, peak_rss_mb=rss,
               json_mb=out.stat().st_size / 2**20,
               tracking_calls=report["tracking_calls"])
    result.target("repair peak RSS", f"< {RSS_TARGET_MB:.0f} MB", rss < RSS_TARGET_MB,
                  f"{rss:,.0f} MB ({total:,} artifacts, {executions:,} executions)")
    return rate


def _check_newest(database_url: str, newest: dict, total: int) -> None:
    """Every artifact names its execution's newest run, or the numbers mean nothing."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(artifacts.c.execution_id, artifacts.c.run_id))
            wrong = sum(1 for execution_id, run_id in rows
                        if newest[execution_id].run_id != run_id)
            audited = conn.scalar(select(func.count()).select_from(artifacts)
                                  .where(artifacts.c.lineage_repaired_at.is_not(None)))
    finally:
        engine.dispose()
    if wrong or audited != total:
        raise AssertionError(f"{wrong} artifacts without their newest run; {audited} repaired")
