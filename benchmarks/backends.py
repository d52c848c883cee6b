"""Run one measurement on SQLite and on PostgreSQL; a backend that fails becomes a note."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult

BACKENDS = ("sqlite", "postgresql")


def on_each_backend(ctx: BenchContext, folder: str, result: BenchResult,
                    measure: Callable[[str, str], float]) -> dict[str, float]:
    """`measure(backend, database_url)` on a fresh SQLite file and PostgreSQL schema."""
    urls: dict[str, AbstractContextManager[str]] = {
        "sqlite": nullcontext(f"sqlite:///{ctx.workdir / folder / 'provenant.db'}"),
        "postgresql": ctx.postgres_schema(),
    }
    measured: dict[str, float] = {}
    for backend, url in urls.items():
        try:
            with url as database_url:
                measured[backend] = measure(backend, database_url)
        except Exception as exc:  # one backend down must not hide the other's numbers
            result.notes.append(f"{backend}: not measured ({type(exc).__name__}: {exc})")
    return measured


def targets_below(result: BenchResult, measured: dict[str, float], name: str, goal: str,
                  limit: float, shown: str) -> None:
    """One target per backend: its measured value below `limit` (`shown` formats it)."""
    for backend in BACKENDS:
        value = measured.get(backend)
        result.target(f"{name} ({backend})", goal, None if value is None else value < limit,
                      "-" if value is None else shown.format(value))
