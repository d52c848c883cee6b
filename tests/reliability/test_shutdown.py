"""SIGTERM stops `provenant serve` and the whole MLflow UI process tree it started."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.test_api_serve import listening, serve, wait_healthy
from tests.support.mlflow_server import free_port

pytestmark = pytest.mark.mlflow_server


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
    return {pid for pid, (_, group, _) in live_processes().items() if group == pgid}


def start_serve(tmp_path, mlflow_template: Path) -> tuple[subprocess.Popen, int, int]:
    """`provenant serve` with the MLflow UI on the default store, created beforehand (the
    UI would otherwise spend seconds migrating a new one)."""
    (tmp_path / "home").mkdir()
    shutil.copy(mlflow_template, tmp_path / "home" / "mlflow.db")
    port, ui_port = free_port(), free_port()
    proc = serve(tmp_path, "--port", str(port),
                 PROVENANT_MLFLOW_UI_URL=f"http://127.0.0.1:{ui_port}",
                 PROVENANT_REPAIR_INTERVAL_SECONDS="0")
    return proc, port, ui_port


def kill_leftovers(proc: subprocess.Popen, ui_leader: int | None) -> None:
    """After a failure: leave no server behind for the rest of the session."""
    if proc.poll() is None:
        proc.kill()
    if ui_leader is not None and process_group(ui_leader):
        os.killpg(ui_leader, signal.SIGKILL)


def wait_for(condition, seconds: float, what: str):
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


def test_sigterm_stops_serve_and_the_mlflow_ui_tree(tmp_path, mlflow_template):
    proc, port, ui_port = start_serve(tmp_path, mlflow_template)
    leader = None
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}/api/health", proc).status_code == 200
        assert wait_healthy(f"http://127.0.0.1:{ui_port}/health", proc).status_code == 200
        leader = mlflow_ui_leader(proc.pid)
        assert leader is not None
        group = process_group(leader)
        assert len(group) >= 2, "expected the mlflow CLI and its uvicorn worker"
        proc.send_signal(signal.SIGTERM)
        output = assert_all_stopped(proc, group, leader, (port, ui_port))
    finally:
        kill_leftovers(proc, leader)
    assert proc.returncode == 0, output  # a graceful stop, as with Ctrl-C
    assert "Shutting down" in output


def test_sigterm_before_uvicorn_starts_still_stops_the_mlflow_ui(tmp_path, mlflow_template):
    proc, port, ui_port = start_serve(tmp_path, mlflow_template)
    leader = None
    try:
        # SIGTERM as soon as the child exists: well before the UI or uvicorn answer.
        leader = wait_for(lambda: mlflow_ui_leader(proc.pid), 60, "no MLflow UI child")
        group = process_group(leader)
        proc.send_signal(signal.SIGTERM)
        assert_all_stopped(proc, group, leader, (port, ui_port))
    finally:
        kill_leftovers(proc, leader)
