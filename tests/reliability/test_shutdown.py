"""SIGTERM stops `provenant serve` and the whole MLflow UI process tree it started."""
from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import serve, wait_healthy
from tests.support.mlflow_server import free_port
from tests.support.processes import (
    assert_all_stopped, kill_leftovers, mlflow_ui_leader, process_group, wait_for)

pytestmark = pytest.mark.mlflow_server


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
