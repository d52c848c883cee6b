"""Store path: `store_*_artifact` inside `mlflow_run_context` vs explicit lineage."""
from __future__ import annotations

import contextvars
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, latency_summary, percentile
from benchmarks.images import chart_png, variant
from provenant.artifacts import store_chart_artifact, store_llm_artifact, store_signal_artifact
from provenant.bootstrap import Services
from provenant.lineage import mlflow_run_context
from provenant.testing.proxy import CountingProxy

NAME = "store_path"
TITLE = "2. Store path: inside mlflow_run_context vs explicit lineage"
WORKFLOW = "bench_store_path"
OVERHEAD_TARGET_PCT = 5.0


def _stores(services: Services, inputs: dict[str, list[int]]
            ) -> dict[str, Callable[..., object]]:
    """Each store a new artifact (a new name: the same name in one execution is the same one),
    content-hashed as every store is, with the workflow's derivation edges: a signal from an
    LLM analysis, an analysis from two charts (`inputs[kind]`, stored first in the run)."""
    png = chart_png()
    return {
        "signal": lambda n, **kw: store_signal_artifact(
            name=f"TSLA signal {n}", symbol="TSLA", action="BUY", confidence=0.72,
            step_name="generate_signal", services=services, inputs=inputs["signal"], **kw),
        "llm": lambda n, **kw: store_llm_artifact(
            name=f"TSLA analysis {n}", symbol="TSLA", prompt="Analyse TSLA " * 40,
            response="Bullish momentum " * 60, model_name="rules", step_name="analyze",
            services=services, inputs=inputs["llm"], **kw),
        "chart": lambda n, **kw: store_chart_artifact(
            name=f"TSLA daily {n}", symbol="TSLA", image=variant(png, n), chart_type="daily",
            step_name="plot_daily_chart", services=services, **kw),
    }


# What each kind is derived from, stored (untimed) in its run before the timed stores.
_INPUT_KINDS = {"signal": ("llm",), "llm": ("chart", "chart"), "chart": ()}


def run(ctx: BenchContext) -> BenchResult:
    pairs = ctx.size(150, 1000, tiny=10)
    result = BenchResult(NAME, TITLE, params={"stores_per_mode": pairs, "database": "sqlite"})
    worst = {"wall": -100.0, "cpu": -100.0}
    total_calls, n = 0, 0
    with CountingProxy(ctx.mlflow_server().url) as proxy:
        services = ctx.services(NAME, tracking_uri=proxy.url)
        outside = contextvars.copy_context()  # no current run: the explicit-lineage path
        inputs: dict[str, list[int]] = {"signal": [], "llm": []}
        stores = _stores(services, inputs)
        for kind, store in stores.items():
            with mlflow_run_context(WORKFLOW, f"bench-{kind}", services=services) as run:
                inputs[kind] = [stores[source](f"input {k}").id
                                for k, source in enumerate(_INPUT_KINDS[kind])]
                inside = contextvars.copy_context()
                explicit = {"workflow_id": WORKFLOW, "execution_id": run.execution_id,
                            "run_id": run.run_id, "experiment_id": run.experiment_id}
                modes = {"context": lambda n: inside.run(store, n),
                         "explicit": lambda n: outside.run(store, n, **explicit)}
                for mode in modes.values():  # warm caches and connections, untimed
                    mode(n := n + 1)
                proxy.reset()
                samples = _interleaved(modes, pairs, n, proxy)
                n += 2 * pairs
                stored = inside.run(store, n)
                if stored.run_id != run.run_id or not stored.content_sha256:
                    raise AssertionError("an artifact stored in a run context lacks its run id "
                                         "or its content hash")
                if services.artifacts.inputs_of(stored.id) != sorted(inputs.get(kind, [])):
                    raise AssertionError(f"a {kind} was stored without its inputs")
            for mode, sample in samples.items():
                stats = latency_summary(sample.wall)
                result.add(f"{kind}: {mode}", n=stats["n"], p50_ms=stats["p50_ms"],
                           p99_ms=stats["p99_ms"], cpu_p50_ms=percentile(sample.cpu, 50) * 1000,
                           calls_per_store=sample.calls / stats["n"])
                total_calls += sample.calls
            overhead = {clock: _paired_overhead(samples["context"], samples["explicit"], clock)
                        for clock in worst}
            result.add(f"{kind}: overhead", overhead_wall_pct=overhead["wall"],
                       overhead_cpu_pct=overhead["cpu"])
            worst = {clock: max(worst[clock], overhead[clock]) for clock in worst}
    result.target("overhead", f"<= {OVERHEAD_TARGET_PCT:.0f}% (CPU per store)",
                  worst["cpu"] <= OVERHEAD_TARGET_PCT,
                  f"worst {worst['cpu']:+.1f}% CPU, {worst['wall']:+.1f}% wall")
    result.target("tracking calls per store", "0", total_calls == 0,
                  f"{total_calls} HTTP requests reached MLflow while storing")
    result.notes.append(
        "Every store computes its content hash (SHA-256 of the canonical content, and of the "
        "chart's image bytes); signals name their LLM analysis and analyses their two charts "
        "as `inputs`, so each store also checks its inputs and writes its edges (charts have "
        "none in the workflow). "
        "Both modes alternate store by store (ABBA) inside one open run; explicit stores run "
        "in a context with no current run. Overhead = median of the paired differences "
        "(context - explicit) over the explicit median, for wall time and for the calling "
        "thread's CPU time (robust to other processes preempting us on a shared machine). "
        "Tracking calls are HTTP requests counted by a proxy in front of `mlflow server`; "
        "opening the run is per execution, not per store, and is excluded.")
    return result


@dataclass
class _Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    calls: int = 0


def _interleaved(modes: dict[str, Callable[[int], object]], pairs: int, first: int,
                 proxy: CountingProxy) -> dict[str, _Samples]:
    """Per-store wall and CPU seconds and tracking requests of each mode, alternating ABBA."""
    samples = {mode: _Samples() for mode in modes}
    names = list(modes)
    for i in range(pairs):
        for mode in (names if i % 2 == 0 else names[::-1]):
            before, cpu, wall = proxy.count, time.thread_time(), time.perf_counter()
            modes[mode](first + 2 * i + names.index(mode))
            samples[mode].wall.append(time.perf_counter() - wall)
            samples[mode].cpu.append(time.thread_time() - cpu)
            samples[mode].calls += proxy.count - before
    return samples


def _paired_overhead(ours: _Samples, base: _Samples, clock: str) -> float:
    """Median per-pair difference as a percentage of the baseline's median."""
    a, b = getattr(ours, clock), getattr(base, clock)
    return 100 * statistics.median(x - y for x, y in zip(a, b)) / statistics.median(b)
