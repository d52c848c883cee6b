"""Shared benchmark harness: results, targets, timing and percentiles."""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """One measured case of a benchmark (one line of its table)."""

    case: str
    metrics: dict[str, Any]


@dataclass
class Target:
    """A stated goal and whether this run met it."""

    name: str
    goal: str
    holds: bool | None  # None: could not be measured in this run
    measured: str


@dataclass
class BenchResult:
    """Everything one benchmark reports: rows, targets, parameters and notes."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def add(self, case: str, **metrics: Any) -> Row:
        row = Row(case, metrics)
        self.rows.append(row)
        return row

    def target(self, name: str, goal: str, holds: bool | None, measured: str) -> None:
        self.targets.append(Target(name, goal, holds, measured))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p99/max/mean in milliseconds, plus the sample count."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else math.nan,
            "mean_ms": statistics.fmean(ms) if ms else math.nan}


def time_calls(fn: Callable[[], Any], *, min_samples: int, max_samples: int,
               budget_s: float, warmup: int = 3) -> list[float]:
    """Call fn repeatedly, returning per-call seconds; stop at max_samples or when the
    budget is spent (but never before min_samples)."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < max_samples:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
        if len(samples) >= min_samples and time.perf_counter() > deadline:
            break
    return samples


class Stopwatch:
    """Context manager that records elapsed wall time in `.seconds`."""

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def fmt(value: Any) -> str:
    """A compact human form of a metric value for tables."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
    return str(value)


def metric_columns(rows: Iterable[Row]) -> list[str]:
    """The union of metric names over rows, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row.metrics:
            seen.setdefault(key, None)
    return list(seen)
