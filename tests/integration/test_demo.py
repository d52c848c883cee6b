"""The README's first command: the real `provenant demo`, from a fresh home to Ctrl-C."""
from __future__ import annotations

import signal

import httpx
import pytest
from mlflow.tracking import MlflowClient

from provenant.cli.demo import DEMO_SYMBOLS
from tests.support.cli import listening, start_provenant, wait_healthy
from tests.support.mlflow_server import free_port
from tests.support.processes import (
    assert_all_stopped, kill_leftovers, live_processes, mlflow_ui_leader, process_group)

pytestmark = pytest.mark.mlflow_server


@pytest.mark.timeout(900)  # five workflow executions first, on a machine that may be busy
def test_demo_serves_every_artifact_with_lineage_and_ctrl_c_stops_both_uis(tmp_path):
    port, ui_port = free_port(), free_port()
    base, ui = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}"
    proc = start_provenant(tmp_path, "demo", "--port", str(port), "--mlflow-ui-port", str(ui_port))
    leader = None
    try:
        assert wait_healthy(f"{base}/api/health", proc, seconds=600).json()["status"] == "ok"
        assert wait_healthy(f"{ui}/health", proc, seconds=120).status_code == 200
        items = httpx.get(f"{base}/api/artifacts", params={"limit": 100}).json()["items"]
        assert len(items) == 35  # 5 symbols: 2 market data windows, 2 charts, LLM, signal, order
        assert {i["symbol"] for i in items} == set(DEMO_SYMBOLS)
        for item in items:
            assert item["lineage"]["status"] == "persisted", item
            assert item["run_id"] and item["experiment_id"], item
            assert item["lineage"]["mlflow_run_url"] == (
                f"{ui}/#/experiments/{item['experiment_id']}/runs/{item['run_id']}")
        # The MLflow UI serves the store the demo wrote: it knows each run.
        for run_id in {i["run_id"] for i in items}:
            run = httpx.get(f"{ui}/api/2.0/mlflow/runs/get", params={"run_id": run_id})
            assert run.json()["run"]["info"]["status"] == "FINISHED"
        leader = mlflow_ui_leader(proc.pid)
        assert leader is not None
        group = process_group(leader)
        assert len(group) >= 2, "expected the mlflow CLI and its uvicorn worker"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output = assert_all_stopped(proc, group, leader, (port, ui_port))
        assert proc.returncode == 0, output
    finally:
        kill_leftovers(proc, leader)


def test_sigterm_while_the_demo_runs_its_workflows_stops_it_cleanly(tmp_path):
    port, ui_port = free_port(), free_port()
    proc = start_provenant(tmp_path, "demo", "--port", str(port), "--mlflow-ui-port", str(ui_port))
    try:
        lines = iter(proc.stdout.readline, "")
        first = next((line for line in lines if line.startswith("TSLA: run ")), None)
        assert first is not None, "the demo ended before its first execution"
        proc.send_signal(signal.SIGTERM)  # mid-way through the next symbol's execution
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    assert not [cmd for _, _, cmd in live_processes().values() if f"--port {ui_port}" in cmd]
    assert not listening(port) and not listening(ui_port)
    # The interrupted execution's run ended (FAILED), it was not left RUNNING.
    client = MlflowClient(f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs and "RUNNING" not in {r.info.status for r in runs}
