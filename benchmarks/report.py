"""Print results with rich, write them as JSON and as the markdown of docs/benchmarks.md."""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.harness import BenchResult, fmt, metric_columns

RESULTS_DIR = Path(__file__).with_name("results")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
PACKAGES = ("provenant", "mlflow", "sqlalchemy", "psycopg", "fastapi", "uvicorn", "httpx")


def machine_info(postgres_version: str | None = None) -> dict[str, Any]:
    """What the numbers were measured on."""
    meminfo = Path("/proc/meminfo")
    mem_kb = 0
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["sqlite"] = sqlite3.sqlite_version
    versions["postgresql"] = postgres_version
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu, "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg")
        else None,
        "os": platform.platform(), "python": sys.version.split()[0], "versions": versions,
    }


def print_results(console: Console, results: list[BenchResult]) -> None:
    """One table per benchmark, then every target with whether it holds."""
    for result in results:
        if result.error:
            console.print(f"[red]{result.name}: {result.error}[/red]")
        if not result.rows:
            continue
        columns = metric_columns(result.rows)
        table = Table(title=f"{result.title} ({result.seconds:.0f} s)", title_justify="left")
        table.add_column("case")
        for column in columns:
            table.add_column(column, justify="right")
        for row in result.rows:
            table.add_row(row.case, *(fmt(row.metrics.get(c)) for c in columns))
        console.print(table)
        for note in result.notes:
            console.print(f"  [dim]{note}[/dim]")
    targets = Table(title="Targets", title_justify="left")
    for column in ("benchmark", "target", "goal", "measured", "holds"):
        targets.add_column(column)
    for result in results:
        for t in result.targets:
            verdict = {True: "[green]yes[/green]", False: "[red]NO[/red]", None: "n/a"}[t.holds]
            targets.add_row(result.name, t.name, t.goal, t.measured, verdict)
    console.print(targets)


def write_json(results: list[BenchResult], machine: dict[str, Any], mode: str,
               path: Path | None) -> Path:
    """The whole run as JSON: to `path`, else benchmarks/results/<mode>-<timestamp>.json."""
    stamp = datetime.now(UTC)
    if path is None:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{mode}-{stamp:%Y%m%dT%H%M%SZ}.json"
    document = {"mode": mode, "finished_at": stamp.isoformat(), "machine": machine,
                "results": [r.to_json() for r in results]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def markdown(results: list[BenchResult], machine: dict[str, Any], mode: str,
             json_path: Path) -> str:
    """The results block of docs/benchmarks.md."""
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    root = DOCS.parents[1]
    shown = json_path.relative_to(root) if json_path.is_relative_to(root) else json_path
    lines = [f"Mode: **{mode}**, finished {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; raw JSON: "
             f"`{shown}`.", "",
             f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gb']} GB RAM, "
             f"load average at start {machine['loadavg_at_start']}, Python {machine['python']}, "
             f"{machine['os']}; {versions}.", ""]
    lines += ["### Targets", "", "| benchmark | target | goal | measured | holds |",
              "|---|---|---|---|---|"]
    for result in results:
        for t in result.targets:
            verdict = {True: "yes", False: "**no**", None: "n/a"}[t.holds]
            lines.append(f"| {result.name} | {t.name} | {t.goal} | {t.measured} | {verdict} |")
    for result in results:
        lines += ["", f"### {result.title}", ""]
        if result.error:
            lines += [f"Error: `{result.error}`", ""]
        if result.rows:
            columns = metric_columns(result.rows)
            lines.append("| case | " + " | ".join(columns) + " |")
            lines.append("|---|" + "---:|" * len(columns))
            for row in result.rows:
                cells = " | ".join(fmt(row.metrics.get(c)) for c in columns)
                lines.append(f"| {row.case} | {cells} |")
        if result.params:
            lines += ["", "Parameters: " + ", ".join(f"{k}={v}" for k, v in result.params.items())]
        lines += [f"- {note}" for note in result.notes]
    return "\n".join(lines)


def update_docs(block: str) -> None:
    """Replace the generated block of docs/benchmarks.md (between its markers)."""
    text = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOCS.write_text(f"{head}{START}\n{block}\n{END}{tail}")
