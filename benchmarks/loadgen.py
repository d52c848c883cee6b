"""Load generation with Debian's `wrk`: keep-alive connections in a closed loop, for a set time.

Each script in benchmarks/wrk/ ends with a Lua `done()` that prints one JSON line
(`PROVENANT_WRK_RESULT {...}`), so nothing depends on wrk's human-readable report.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).with_name("wrk")
MARKER = "PROVENANT_WRK_RESULT "
# wrk counts these in summary.errors; "status" is any answer >= 400.
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


class WrkMissing(RuntimeError):
    """wrk is not installed."""


@dataclass
class WrkRun:
    """One wrk run: its JSON result line, its duration and the CPU it used."""

    data: dict[str, Any]
    cpu_seconds: float
    output: str = field(repr=False, default="")

    @property
    def seconds(self) -> float:
        return self.data["duration_us"] / 1e6

    @property
    def errors(self) -> int:
        """Socket errors, timeouts and answers >= 400."""
        return sum(self.data["errors"].get(k, 0) for k in (*SOCKET_ERRORS, "status"))

    def summary(self) -> dict[str, float]:
        """Requests, throughput, p50/p99/max in ms and errors, as benchmark rows show them."""
        latency = self.data["latency_us"]
        return {"requests": self.data["requests"],
                "req_per_s": self.data["requests"] / self.seconds,
                "p50_ms": latency["p50"] / 1000, "p99_ms": latency["p99"] / 1000,
                "max_ms": latency["max"] / 1000, "errors": self.errors}


def wrk_path() -> str:
    """The wrk binary, or a clear error saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: apt-get install -y wrk")
    return path


def command(url: str, *, script: str, connections: int, seconds: float,
            threads: int | None = None, timeout_s: float = 30.0) -> list[str]:
    """The wrk command line: `connections` keep-alive connections for `seconds`."""
    threads = threads or 1
    return [wrk_path(), f"--threads={threads}", f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s", f"--timeout={timeout_s:g}s",
            f"--script={SCRIPTS / script}", url]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """wrk's environment: Lua finds benchmarks/wrk/common.lua with `require`."""
    return {**os.environ, "LUA_PATH": f"{SCRIPTS}/?.lua;;", **(extra or {})}


def parse(output: str) -> dict[str, Any]:
    """The JSON result line of a wrk run's output."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    raise RuntimeError(f"wrk printed no result line; its output:\n{output[-2000:]}")


def finish(proc: subprocess.Popen, cpu_before: float) -> WrkRun:
    """Wait for a started wrk and read its result."""
    output, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}:\n{output[-2000:]}")
    return WrkRun(parse(output), _children_cpu() - cpu_before, output)


def start(cmd: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:
    """Start wrk in the background; pass the result to finish()."""
    cpu = _children_cpu()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=environment(env))
    return proc, cpu


def run_get(url: str, *, connections: int, seconds: float) -> WrkRun:
    """GET `url` from `connections` keep-alive connections for `seconds` (whole seconds)."""
    return finish(*start(command(url, script="get.lua", connections=connections,
                                 seconds=seconds)))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
