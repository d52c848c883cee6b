"""Detail read: `GET /api/artifacts/{id}` vs MLflow's `GET /api/2.0/mlflow/runs/get`."""
from __future__ import annotations

import httpx

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult
from benchmarks.loadgen import LoadResult, run_load
from benchmarks.servers import provenant_api
from provenant.artifacts import store_signal_artifact
from provenant.lineage import mlflow_run_context

NAME = "detail_read"
TITLE = "3. Detail read: Provenant artifact vs MLflow run, same load generator"
CONCURRENCY = 32
RATIO_TARGET, P99_TARGET_MS = 2.0, 20.0
WORKERS = 1  # as `provenant serve` runs, and as BenchContext runs `mlflow server`


def run(ctx: BenchContext) -> BenchResult:
    duration, rounds = ctx.size(3.0, 10.0, tiny=0.5), ctx.size(1, 2)
    result = BenchResult(NAME, TITLE, params={
        "concurrency": CONCURRENCY, "seconds_per_round": duration, "rounds": rounds,
        "server_workers": WORKERS, "database": "sqlite"})
    server = ctx.mlflow_server()
    services = ctx.services(NAME)
    with mlflow_run_context("ibkr_trading_signal_workflow", "bench-detail-read",
                            services=services) as run:
        # A run shaped like the workflow's: a few params, metrics and tags.
        for key, value in {"symbol": "TSLA", "analyst": "rules", "broker": "paper",
                           "lookback_days": "180", "chart_types": "daily,weekly"}.items():
            run.client.log_param(run.run_id, key, value)
        for key, value in {"confidence": 0.72, "close": 251.3, "rsi_14": 61.2}.items():
            run.client.log_metric(run.run_id, key, value)
        artifact = store_signal_artifact(name="TSLA signal", symbol="TSLA", action="BUY",
                                         confidence=0.72, step_name="generate_signal",
                                         services=services)
    settings = services.settings
    env = {"PROVENANT_HOME": str(settings.home), "PROVENANT_DATABASE_URL": settings.database_url,
           "PROVENANT_MLFLOW_TRACKING_URI": server.url, "PROVENANT_REPAIR_INTERVAL_SECONDS": "0"}
    with provenant_api(env, ctx.workdir / NAME / "api.log", workers=WORKERS) as api:
        targets = {
            "provenant GET /api/artifacts/{id}": f"{api}/api/artifacts/{artifact.id}",
            "mlflow GET /api/2.0/mlflow/runs/get": (
                f"{server.url}/api/2.0/mlflow/runs/get?run_id={run.run_id}"),
        }
        _check_responses(targets, artifact.id, run.run_id)
        totals = {(name, c): LoadResult(seconds=0) for name in targets
                  for c in (CONCURRENCY, 1)}
        for _ in range(rounds):  # alternate, so both see the same background load
            for (name, clients), total in totals.items():
                # One client shows the service time itself; 32 add queueing on top.
                measured = run_load(targets[name], concurrency=clients,
                                    duration_s=duration if clients > 1 else duration / 2)
                total.latencies += measured.latencies
                total.errors += measured.errors
                total.seconds += measured.seconds
    for (name, clients), total in totals.items():
        result.add(f"{name} @{clients} client{'s' if clients > 1 else ''}", **total.summary())
    ours_name, theirs_name = targets
    ours, theirs = totals[(ours_name, CONCURRENCY)], totals[(theirs_name, CONCURRENCY)]
    ratio = ours.requests_per_s / theirs.requests_per_s
    p99 = ours.summary()["p99_ms"]
    result.add("ratio (provenant / mlflow) @32", req_per_s=ratio)
    result.target("detail read throughput", f">= {RATIO_TARGET:.0f}x MLflow runs/get",
                  ratio >= RATIO_TARGET, f"{ratio:.1f}x ({ours.requests_per_s:,.0f} vs "
                                         f"{theirs.requests_per_s:,.0f} req/s)")
    result.target("detail read p99", f"< {P99_TARGET_MS:.0f} ms at {CONCURRENCY} clients",
                  p99 < P99_TARGET_MS, f"{p99:.1f} ms")
    result.notes.append(
        f"Each server runs {WORKERS} uvicorn process on loopback with its access log on, over "
        "the same SQLite-backed stores; the load generator (raw asyncio HTTP/1.1 keep-alive, "
        "closed loop) runs in the benchmark process on the same cores.")
    return result


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
