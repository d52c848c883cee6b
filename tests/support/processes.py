"""The processes a `provenant` server leaves, and waiting for them to go."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.cli import listening


def live_processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, process group, command line) of every process that is not a zombie."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # it exited while we looked
            continue
        state, ppid, pgid = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z":  # a zombie runs nothing and holds no port
            found[int(entry.name)] = (int(ppid), int(pgid), cmdline)
    return found


def mlflow_ui_leader(serve_pid: int) -> int | None:
    """The `mlflow server` child of `provenant serve` (it leads its own process group)."""
    return next((pid for pid, (ppid, _, cmd) in live_processes().items()
                 if ppid == serve_pid and "mlflow" in cmd and " server " in cmd), None)


def process_group(pgid: int) -> set[int]:
    """The live pids of this process group."""
    return {pid for pid, (_, group, _) in live_processes().items() if group == pgid}


def kill_leftovers(proc: subprocess.Popen, ui_leader: int | None) -> None:
    """After a failure: leave no server behind for the rest of the session."""
    if proc.poll() is None:
        proc.kill()
    if ui_leader is not None and process_group(ui_leader):
        os.killpg(ui_leader, signal.SIGKILL)


def wait_for(condition, seconds: float, what: str):
    """condition()'s first truthy value, polled; AssertionError naming `what` after seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.01)
    raise AssertionError(f"{what} within {seconds:.0f} s")


def assert_all_stopped(proc: subprocess.Popen, group: set[int], ui_leader: int,
                       ports: tuple[int, ...]) -> str:
    """The server exits (bounded wait), and by then nothing of the UI's tree is left."""
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), output  # 130: stopped before uvicorn started
    assert "Traceback" not in output
    # No grace period here: `serve` returns only after the UI's process group is gone.
    assert process_group(ui_leader) == set(), output
    assert group.isdisjoint(live_processes()), "a process of the MLflow UI outlived serve"
    assert not any(listening(port) for port in ports), output
    return output
