"""Load: mixed reads and writes against a real `provenant serve` for a bounded time.

`python -m benchmarks.load [--seconds 60] [--clients 16] [--database sqlite|postgresql]
[--json PATH]` (`make load`). Prints per-operation counts, errors, p50/p99 and overall,
writes JSON, and exits 1 on any error: an unexpected status, a wrong body, a connection
error or timeout, or a check after the run finding stored data lost or mislinked.

`provenant serve` (one uvicorn process, access log on, API token set) runs on loopback
with a real `mlflow server` as its tracker. Seeded first: artifacts with lineage captured
at store time, and legacy ones without a run id whose MLflow runs exist (reading them
hydrates). The requests are made by wrk running benchmarks/wrk/mix.lua (one keep-alive
connection per client, closed loop); the repair trigger and late runs are
benchmarks/load_mix.py's.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from contextlib import ExitStack
from itertools import chain
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import select

from benchmarks import loadgen
from benchmarks.context import (MODES, BenchContext, MlflowServer, add_mlflow_arguments,
                                mlflow_from_arguments)
from benchmarks.harness import BenchResult, latency_summary
from benchmarks.images import chart_png, variant
from benchmarks.load_mix import (OPERATIONS, REPAIR, MixResult, OpStats, Seeded, Ticker,
                                 write_config)
from benchmarks.mlflow_seed import seed_runs
from benchmarks.report import machine_info, print_results, write_json
from benchmarks.seed import COLUMNS, artifact_rows, bulk_insert, legacy_execution_id
from benchmarks.servers import provenant_serve
from provenant.bootstrap import Services, reset_services
from provenant.adapters.blobs import image_key
from provenant.store.tables import artifacts

NAME = "load"
TITLE = "Load: mixed reads and writes against provenant serve"
TOKEN = "load-test-token"
IMAGES = 16  # distinct chart images among the seeded charts


def run(ctx: BenchContext, *, seconds: float, clients: int = 16, repair_every: float = 10.0,
        database: str = "sqlite") -> BenchResult:
    """Seed, serve, load for `seconds`, settle, verify; one row per operation."""
    persisted, legacy = ctx.size(2_000, 4_000, tiny=200), ctx.size(4_000, 8_000, tiny=400)
    result = BenchResult(NAME, TITLE, params={
        "seconds": seconds, "clients": clients, "repair_every_s": repair_every,
        "database": database, "seeded_persisted": persisted, "seeded_legacy": legacy})
    with ExitStack() as stack:
        database_url = (stack.enter_context(ctx.postgres_schema())
                        if database == "postgresql" else None)
        stack.callback(reset_services)  # before the schema goes: no pooled connections left
        server = ctx.mlflow_server()
        services = ctx.services(NAME, database_url=database_url)
        seeded = seed(services, server, persisted, legacy)
        settings = services.settings
        env = {"PROVENANT_HOME": str(settings.home), "PROVENANT_DATABASE_URL":
               settings.database_url, "PROVENANT_MLFLOW_TRACKING_URI": server.url,
               "PROVENANT_API_TOKEN": TOKEN, "PROVENANT_REPAIR_INTERVAL_SECONDS": "0"}
        log_path = ctx.workdir / NAME / "serve.log"
        api = stack.enter_context(provenant_serve(env, log_path))
        warm_up(api, seeded)
        config = ctx.workdir / NAME / "mix-config.lua"
        write_config(config, seeded, TOKEN)
        ticker = Ticker(api, seeded, TOKEN, services)
        machine = MachineLoad()
        wrk = loadgen.start(loadgen.command(f"{api}/", script="mix.lua", connections=clients,
                                            threads=clients, seconds=seconds),
                            {"PROVENANT_LOAD_CONFIG": str(config)})
        ticker.start(repair_every)
        try:
            done = loadgen.finish(*wrk)
        finally:
            ticker.stop()
        window = machine.stop(done.cpu_seconds)
        ticker.settle()
        mix = MixResult.merge(done.data)
        problems = verify(services, seeded, mix, ticker, clients)
    problems += logged_tracebacks(log_path)  # the server stopped: its log is complete
    _report(result, done, mix, ticker, window, problems)
    return result


def seed(services: Services, server: MlflowServer, persisted: int, legacy: int) -> Seeded:
    """Four artifacts per execution, each execution with its run in MLflow; legacy rows
    carry no run id. Charts point at real images in the blob store."""
    tag = uuid.uuid4().hex[:8]
    workflow = f"load_{tag}"  # its own workflow id: runs of other benchmarks never match
    n_persisted = persisted // 4
    execution_ids = [legacy_execution_id(n) for n in range(n_persisted + legacy // 4)]
    client = services.tracker.client
    runs = seed_runs(client, server.backend_uri, f"load-{tag}", workflow, execution_ids)
    captured, uncaptured = execution_ids[:n_persisted], execution_ids[n_persisted:]
    images = [variant(chart_png(), n) for n in range(IMAGES)]
    keys = [image_key(data, "image/png") for data in images]
    for key, data in zip(keys, images):
        services.blobs.put(key, data, "image/png")
    rows = chain(
        artifact_rows(persisted, workflow_id=workflow, execution_of=lambda i: captured[i // 4],
                      lineage_of=lambda i: (runs[captured[i // 4]].run_id,
                                            runs[captured[i // 4]].experiment_id)),
        artifact_rows(legacy, workflow_id=workflow, execution_of=lambda i: uncaptured[i // 4],
                      start_id=persisted + 1))
    key_at, id_at = COLUMNS.index("image_key"), COLUMNS.index("id")
    image_sha = {}

    def with_real_image(row: tuple) -> tuple:
        if row[key_at] is None:
            return row
        key = keys[row[id_at] % IMAGES]
        image_sha[row[id_at]] = key.split(".")[0]
        return (*row[:key_at], key, *row[key_at + 1:])

    count = bulk_insert(services.engine, map(with_real_image, rows))
    legacy_ids = list(range(persisted + 1, persisted + legacy + 1))
    return Seeded(workflow_id=workflow, late_workflow_id=f"{workflow}_late",
                  late_experiment_id=client.create_experiment(f"load-{tag}-late"),
                  persisted_ids=list(range(1, persisted + 1)), legacy_ids=legacy_ids,
                  legacy_execution={i: uncaptured[(i - persisted - 1) // 4] for i in legacy_ids},
                  executions=captured, runs=runs, image_sha=image_sha,
                  image_len={key.split(".")[0]: len(data) for key, data in zip(keys, images)},
                  rows=count)


def warm_up(api: str, seeded: Seeded) -> None:
    """One untimed read of each kind, so first-use costs (templates, imports) are not in
    the window: wrk abandons what is in flight when it stops, so a short run with slow
    first answers could see an operation never answered."""
    chart = next(iter(seeded.image_sha))
    for path in ("/api/artifacts?limit=50", f"/api/artifacts/{seeded.persisted_ids[0]}",
                 f"/api/artifacts/{chart}/image", "/artifacts",
                 f"/artifacts/{seeded.persisted_ids[0]}",
                 f"/artifacts/{seeded.persisted_ids[0]}/drawer", "/api/lineage/repairs"):
        httpx.get(api + path, timeout=120).raise_for_status()


def verify(services: Services, seeded: Seeded, mix: MixResult, ticker: Ticker,
           clients: int) -> list[str]:
    """After the load: nothing lost or duplicated, images and lineage are the ones sent."""
    t = artifacts.c
    with services.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(
            t.id, t.type, t.name, t.execution_id, t.run_id, t.image_key)).all()}
    posted, uploaded = mix.posted, mix.uploaded
    problems = []
    # wrk stops with up to one request per connection in flight, unanswered: a post among
    # them may be stored. Such rows must be the load's own, and no more than connections.
    unread = [r for i, r in rows.items() if i > seeded.rows and i not in posted]
    foreign = [r.id for r in unread if not (r.name or "").startswith("load ")]
    if len(unread) > clients or foreign:
        problems.append(f"{len(rows)} rows stored, expected {seeded.rows} seeded + "
                        f"{len(posted)} posted + at most {clients} in flight at the end; "
                        f"not posted by the load: {foreign[:5]}")
    lost = [i for i, (kind, name) in posted.items()
            if i not in rows or (rows[i].type, rows[i].name) != (kind, name)]
    if lost:
        problems.append(f"{len(lost)} posted artifacts missing or changed, e.g. {lost[:5]}")
    bad_images = [i for i, sha in uploaded.items()
                  if i not in rows or (rows[i].image_key or "").split(".")[0] != sha]
    if bad_images:
        problems.append(f"{len(bad_images)} uploaded images not stored, e.g. {bad_images[:5]}")
    expected_run = {e: r.run_id for e, r in chain(seeded.runs.items(),
                                                  ticker.late_runs.items())}
    mislinked = [r.id for r in rows.values()
                 if r.run_id is not None and expected_run.get(r.execution_id) != r.run_id]
    if mislinked:
        problems.append(f"{len(mislinked)} artifacts name a wrong run, e.g. {mislinked[:5]}")
    unlinked = [i for i, (kind, _) in posted.items()
                if kind == "chart" and i in rows and rows[i].run_id is None]
    if unlinked:
        problems.append(f"{len(unlinked)} late charts still pending after their runs were "
                        f"made and a repair ran, e.g. {unlinked[:5]}")
    return problems


def logged_tracebacks(log_path: Path) -> list[str]:
    """A traceback in the server's log is a failure even if every answer was right."""
    lines = log_path.read_text(errors="replace").splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("Traceback")]
    if not starts:
        return []
    # The exception itself: the first unindented line after the frames.
    first = next((line for line in lines[starts[0] + 1:] if line and not line[0].isspace()), "")
    return [f"server log: {len(starts)} traceback(s), the first: {first!r}"]


class MachineLoad:
    """CPU use of the whole machine (all processes) over the load window."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.busy, self.total = _cpu_jiffies()

    def stop(self, generator_cpu_s: float) -> dict[str, float]:
        """The window's numbers; `generator_cpu_s` is what wrk used."""
        busy, total = _cpu_jiffies()
        wall = time.perf_counter() - self.start
        return {"seconds": wall, "nproc": os.cpu_count() or 1,
                "machine_cpu_busy_pct": 100 * (busy - self.busy) / max(total - self.total, 1),
                "generator_cpu_pct_of_one_core": 100 * generator_cpu_s / wall,
                "loadavg_1min_at_end": os.getloadavg()[0]}


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _report(result: BenchResult, done: loadgen.WrkRun, mix: MixResult, ticker: Ticker,
            window: dict[str, float], problems: list[str]) -> None:
    seconds = done.seconds
    stats = {**mix.ops, **ticker.stats}
    for op in OPERATIONS:
        _add_row(result, op, stats[op], seconds)
    _add_row(result, "all operations", [stats[op] for op in OPERATIONS], seconds)
    for op, op_stats in stats.items():
        for reason, n in op_stats.errors.items():
            result.notes.append(f"{op}: {n} x {reason}; e.g. {op_stats.samples[:1]}")
    socket = {k: done.data["errors"].get(k, 0) for k in loadgen.SOCKET_ERRORS}
    result.add("wrk: socket errors and timeouts", requests=done.data["requests"],
               errors=sum(socket.values()))
    if any(socket.values()):
        result.notes.append(f"wrk counted socket errors: {socket}")
    # "settle" (the repair after the window) fails the run too, though it is not a row.
    failures = (sum(sum(s.errors.values()) for s in stats.values()) + len(problems)
                + sum(socket.values()))
    result.add("verify (after the window)", requests=1, errors=len(problems))
    result.notes += [f"verify: {p}" for p in problems]
    # Sent and still within its timeout when wrk stopped counts: wrk abandons in-flight
    # requests, and on a starved machine a short run may end with a first POST unanswered.
    missing = [op for op in OPERATIONS if not stats[op].latencies and not stats[op].in_flight]
    result.target("no errors", "0 errors, 0 failed checks", failures == 0, f"{failures}")
    result.target("every operation exercised",
                  "each op answered at least once, or in flight at the stop",
                  not missing, f"missing: {', '.join(missing)}" if missing else "all")
    if failures or missing:
        result.error = f"{failures} errors; operations never answered: {missing or 'none'}"
    posted = Counter(kind for kind, _ in mix.posted.values())
    legacy_status = dict(mix.legacy_status)
    result.params.update(window=window, legacy_read_status=legacy_status, posted=dict(posted),
                         uploaded=len(mix.uploaded), late_runs_made=len(ticker.late_runs),
                         repairs=ticker.repairs, server_metrics=ticker.metrics)
    result.notes.append(
        f"machine: {window['nproc']} CPUs {window['machine_cpu_busy_pct']:.0f}% busy over the "
        f"window (all processes), load average {window['loadavg_1min_at_end']:.1f} at its end; "
        f"wrk used {window['generator_cpu_pct_of_one_core']:.0f}% of one core")
    result.notes.append(f"get_legacy lineage status seen: {legacy_status}; "
                        f"server counters: {ticker.metrics}")
    result.notes.append(f"posted: {dict(posted)}, images uploaded: {len(mix.uploaded)}, "
                        f"late runs made: {len(ticker.late_runs)}")
    real = [r for r in ticker.repairs if r["op"] == REPAIR and "dry_run" not in r["request"]]
    dry = [r for r in ticker.repairs if "dry_run" in r["request"]]
    result.notes.append(
        f"repair trigger: {len(dry)} dry runs (scanned up to "
        f"{max((r['scanned'] for r in dry), default=0):,}), {len(real)} real repairs of late "
        f"charts ({sum(r['repaired'] for r in real):,} repaired)")


def _add_row(result: BenchResult, case: str, stats, seconds: float) -> None:
    """One table row over one or several operations' stats."""
    group = [stats] if isinstance(stats, OpStats) else list(stats)
    summary = latency_summary([x for s in group for x in s.latencies])
    errors = sum(sum(s.errors.values()) for s in group)
    result.add(case, requests=summary["n"] + errors, errors=errors,
               in_flight=sum(s.in_flight for s in group),
               req_per_s=summary["n"] / seconds, p50_ms=summary["p50_ms"],
               p99_ms=summary["p99_ms"], max_ms=summary["max_ms"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="load duration (60)")
    parser.add_argument("--clients", type=int, default=16, help="connections (16)")
    parser.add_argument("--repair-every", type=float, default=10.0,
                        help="seconds between repair triggers (10)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="PostgreSQL from PROVENANT_BENCH_DATABASE_URL or "
                             "PROVENANT_TEST_DATABASE_URL, in a fresh schema")
    parser.add_argument("--seed", choices=MODES, default="full",
                        help="seed sizes: tiny (the smoke test's), quick or full")
    parser.add_argument("--json", type=Path, help="write results here "
                        "(default: benchmarks/results/load-<timestamp>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    add_mlflow_arguments(parser)
    args = parser.parse_args(argv)
    args.mlflow = mlflow_from_arguments(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the load; 0 only when every request and check succeeded."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    workdir = Path(tempfile.mkdtemp(prefix="provenant-load-"))
    ctx = BenchContext(mode=args.seed, workdir=workdir, mlflow=args.mlflow)
    machine = machine_info(ctx.postgres_version() if args.database == "postgresql" else None)
    console.print(f"[bold]load[/bold]: {args.seconds:.0f} s, {args.clients} clients, "
                  f"{args.database} ...")
    start = time.perf_counter()
    try:
        result = run(ctx, seconds=args.seconds, clients=args.clients,
                     repair_every=args.repair_every, database=args.database)
    except Exception as exc:  # a setup failure is a failed run, reported like the others
        console.print(traceback.format_exc(), style="dim")
        result = BenchResult(NAME, TITLE, error=f"{type(exc).__name__}: {exc}")
    finally:
        ctx.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = time.perf_counter() - start
    print_results(console, [result])
    console.print(f"JSON: {write_json([result], machine, NAME, args.json)}")
    if result.error:
        console.print(f"[red]FAILED: {result.error}[/red]")
    return 1 if result.error else 0


if __name__ == "__main__":
    sys.exit(main())
