"""Workflow: wall time of ibkr_trading_signal_workflow for 1 and 5 symbols, per step (warm)."""
from __future__ import annotations

import statistics
import uuid
from collections import defaultdict

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, Stopwatch
from provenant.workflows import StepEvent, get_workflow, run_workflow

NAME = "workflow"
TITLE = "4. Workflow: ibkr_trading_signal_workflow end to end (warm, in process)"
WORKFLOW = "ibkr_trading_signal_workflow"
SYMBOLS = ("TSLA", "MSFT", "NVDA", "NFLX", "AMZN")
ONE_SYMBOL_TARGET_S = 3.0


def run(ctx: BenchContext) -> BenchResult:
    repeats = ctx.size(2, 5)
    services = ctx.services(NAME)
    result = BenchResult(NAME, TITLE, params={
        "single_symbol_repeats": repeats, "analyst": services.settings.analyst,
        "market_data": services.settings.market_data_provider,
        "broker": services.settings.broker, "tracking": "mlflow server (http)"})
    step_ms: dict[str, list[float]] = defaultdict(list)
    tag = uuid.uuid4().hex[:6]

    def execute(symbol: str, label: str) -> float:
        events: list[StepEvent] = []
        with Stopwatch() as wall:
            outcome = run_workflow(WORKFLOW, symbol, f"bench-{tag}-{label}-{symbol}",
                                   on_step=events.append, services=services)
        if outcome.status != "FINISHED" or not outcome.artifacts:
            raise AssertionError(f"workflow for {symbol} ended {outcome.status}")
        done = [e for e in events if e.status == "succeeded"]
        for event in done:
            step_ms[event.step].append(event.duration_ms or 0.0)
        step_ms["(run open/close, result)"].append(
            wall.seconds * 1000 - sum(e.duration_ms or 0.0 for e in done))
        return wall.seconds

    execute("TSLA", "warmup")  # imports, fonts, experiment creation: not what "warm" measures
    step_ms.clear()
    singles = [execute("TSLA", f"single{i}") for i in range(repeats)]
    with Stopwatch() as five:
        for symbol in SYMBOLS:
            execute(symbol, "five")
    one = statistics.median(singles)
    result.add("1 symbol, wall", runs=repeats, median_ms=one * 1000, max_ms=max(singles) * 1000)
    result.add("5 symbols (sequential, as `provenant run` does), wall", runs=1,
               median_ms=five.seconds * 1000, per_symbol_ms=five.seconds * 1000 / len(SYMBOLS))
    order = [*get_workflow(WORKFLOW).step_names, "(run open/close, result)"]
    for step in order:
        if step in step_ms:
            durations = step_ms[step]
            result.add(f"step: {step}", runs=len(durations),
                       median_ms=statistics.median(durations), max_ms=max(durations),
                       share_pct=100 * sum(durations) / sum(map(sum, step_ms.values())))
    result.target("one symbol end to end", f"< {ONE_SYMBOL_TARGET_S:.0f} s warm",
                  one < ONE_SYMBOL_TARGET_S, f"{one:.2f} s (median of {repeats})")
    result.notes.append("Steps are timed by the runner's own step events over every timed "
                        "execution (1-symbol repeats and the 5 symbols); the first execution "
                        "warms imports and caches and is not counted.")
    return result
