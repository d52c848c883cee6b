"""Detail read: `GET /api/artifacts/{id}` vs MLflow's `GET /api/2.0/mlflow/runs/get`."""
from __future__ import annotations

from contextlib import ExitStack

import httpx

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult
from benchmarks.loadgen import WrkRun, run_get
from benchmarks.servers import mlflow_api, provenant_serve
from provenant.artifacts import store_signal_artifact
from provenant.lineage import mlflow_run_context

NAME = "detail_read"
TITLE = "3. Detail read: Provenant artifact vs MLflow run, same load generator (wrk)"
CONCURRENCY = 32
RATIO_TARGET, P99_TARGET_MS = 2.0, 20.0
WORKERS = (1, 2)  # `provenant serve`'s default, and one process per core
PROVENANT, MLFLOW = "provenant GET /api/artifacts/{id}", "mlflow GET /api/2.0/mlflow/runs/get"


def run(ctx: BenchContext) -> BenchResult:
    duration, rounds = ctx.size(3, 10, tiny=1), ctx.size(1, 2)
    result = BenchResult(NAME, TITLE, params={
        "concurrency": CONCURRENCY, "seconds_per_round": duration, "rounds": rounds,
        "server_workers": list(WORKERS), "database": "sqlite"})
    server = ctx.mlflow_server()
    services = ctx.services(NAME)
    with mlflow_run_context("ibkr_trading_signal_workflow", "bench-detail-read",
                            services=services) as run:
        # A run shaped like the workflow's: a few params, metrics and tags.
        services.tracker.log_run(
            run.run_id, params={"symbol": "TSLA", "analyst": "rules", "broker": "paper",
                                "lookback_days": "180", "chart_types": "daily,weekly"},
            metrics={"confidence": 0.72, "close": 251.3, "rsi_14": 61.2}, tags={}, files={})
        artifact = store_signal_artifact(name="TSLA signal", symbol="TSLA", action="BUY",
                                         confidence=0.72, step_name="generate_signal",
                                         services=services)
    settings = services.settings
    env = {"PROVENANT_HOME": str(settings.home), "PROVENANT_DATABASE_URL": settings.database_url,
           "PROVENANT_MLFLOW_TRACKING_URI": server.url, "PROVENANT_REPAIR_INTERVAL_SECONDS": "0"}
    measured: dict[int, dict[tuple[str, int], dict]] = {}
    for workers in WORKERS:
        with ExitStack() as servers:
            api = servers.enter_context(provenant_serve(
                env, ctx.workdir / NAME / f"api-{workers}.log", workers=workers))
            mlflow_url = server.url if workers == 1 else servers.enter_context(
                mlflow_api(server.backend_uri, ctx.workdir / NAME, workers=workers))
            targets = {
                PROVENANT: f"{api}/api/artifacts/{artifact.id}",
                MLFLOW: f"{mlflow_url}/api/2.0/mlflow/runs/get?run_id={run.run_id}",
            }
            _check_responses(targets, artifact.id, run.run_id)
            # One client shows the service time itself; 32 add queueing on top.
            levels = (CONCURRENCY, 1) if workers == 1 else (CONCURRENCY,)
            measured[workers] = _alternate(targets, levels, duration, rounds)
        for (name, clients), total in measured[workers].items():
            plural = "s" if clients > 1 else ""
            result.add(f"{name} @{clients} client{plural}, {workers} worker{'s' * (workers > 1)}",
                       **total)
    ratios = {w: m[(PROVENANT, CONCURRENCY)]["req_per_s"] / m[(MLFLOW, CONCURRENCY)]["req_per_s"]
              for w, m in measured.items()}
    p99s = {w: m[(PROVENANT, CONCURRENCY)]["p99_ms"] for w, m in measured.items()}
    for workers, ratio in ratios.items():
        result.add(f"ratio (provenant / mlflow) @{CONCURRENCY}, {workers} worker"
                   f"{'s' * (workers > 1)}", req_per_s=ratio)
    best = min(p99s, key=p99s.get)
    rates = {w: m[(PROVENANT, CONCURRENCY)]["req_per_s"] for w, m in measured.items()}
    result.target("detail read throughput", f">= {RATIO_TARGET:.0f}x MLflow runs/get",
                  min(ratios.values()) >= RATIO_TARGET,
                  ", ".join(f"{ratios[w]:.1f}x at {w} worker{'s' * (w > 1)}" for w in WORKERS))
    result.target("detail read p99", f"< {P99_TARGET_MS:.0f} ms at {CONCURRENCY} clients",
                  p99s[best] < P99_TARGET_MS,
                  f"{p99s[best]:.1f} ms ({best} worker{'s' * (best > 1)}; closed loop: mean "
                  f"latency = {CONCURRENCY} / {rates[best]:,.0f} req/s = "
                  f"{CONCURRENCY / rates[best] * 1000:.1f} ms)")
    result.notes.append(
        "`provenant serve` and `mlflow server` run on loopback with access logs on, over the same "
        "SQLite-backed stores, at 1 worker process (as `provenant serve` runs by default) and "
        f"at {WORKERS[-1]} (one per core); the load generator is wrk (one thread, keep-alive "
        "connections, closed loop, 1 s warm-up per target) on the same cores; gen_cpu_pct is "
        "wrk's own CPU time as a share of one core. Latency percentiles are the worst "
        "round's. In a "
        f"closed loop the mean latency is clients / throughput, so p99 < {P99_TARGET_MS:.0f} ms "
        f"at {CONCURRENCY} clients needs well over {CONCURRENCY / P99_TARGET_MS * 1000:,.0f} "
        "req/s.")
    return result


def _alternate(targets: dict[str, str], levels: tuple[int, ...], duration: int,
               rounds: int) -> dict[tuple[str, int], dict]:
    """Measure every target at every concurrency, alternating so both see the same load."""
    for url in targets.values():  # warm-up, not counted
        run_get(url, connections=CONCURRENCY, seconds=1)
    runs: dict[tuple[str, int], list[WrkRun]] = {(n, c): [] for n in targets for c in levels}
    for _ in range(rounds):
        for (name, clients), done in runs.items():
            seconds = duration if clients > 1 else max(1, duration // 2)
            done.append(run_get(targets[name], connections=clients, seconds=seconds))
    return {key: _combined(done) for key, done in runs.items()}


def _combined(runs: list[WrkRun]) -> dict:
    """Rounds together: total requests over total time; the worst round's percentiles."""
    seconds = sum(r.seconds for r in runs)
    rows = [r.summary() for r in runs]
    return {"requests": sum(r["requests"] for r in rows),
            "req_per_s": sum(r["requests"] for r in rows) / seconds,
            **{k: max(r[k] for r in rows) for k in ("p50_ms", "p99_ms", "max_ms")},
            "errors": sum(r["errors"] for r in rows),
            "gen_cpu_pct": 100 * sum(r.cpu_seconds for r in runs) / seconds}


def _check_responses(targets: dict[str, str], artifact_id: int, run_id: str) -> None:
    """Both endpoints answer what we think they answer before we time them."""
    ours, theirs = (httpx.get(url, timeout=10) for url in targets.values())
    ours.raise_for_status()
    theirs.raise_for_status()
    body = ours.json()
    if body["id"] != artifact_id or body["run_id"] != run_id or \
            body["lineage"]["status"] != "persisted":
        raise AssertionError(f"unexpected artifact response: {body}")
    if theirs.json()["run"]["info"]["run_id"] != run_id:
        raise AssertionError("unexpected MLflow runs/get response")
