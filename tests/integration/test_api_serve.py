"""`provenant serve` as a real process: API up, port errors, the MLflow UI started and stopped."""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.cli import listening, serve, stop, wait_healthy
from tests.support.mlflow_server import free_port

def test_serve_answers_health_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    proc = serve(tmp_path, "--no-mlflow-ui", "--port", str(port))
    try:
        answer = wait_healthy(f"http://127.0.0.1:{port}/api/health", proc)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/api/artifacts").json()["items"] == []
    finally:
        code, output = stop(proc)
    assert code == 0, output
    assert not listening(port)


def test_serve_on_a_taken_port_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = serve(tmp_path, "--no-mlflow-ui", "--port", str(port))
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"port {port}" in output and "already in use" in output
    assert "Traceback" not in output


def test_serve_refuses_a_taken_mlflow_ui_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ui_port = taken.getsockname()[1]
        proc = serve(tmp_path, "--port", str(free_port()),
                     PROVENANT_MLFLOW_UI_URL=f"http://127.0.0.1:{ui_port}")
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"port {ui_port}" in output and "--no-mlflow-ui" in output
    assert "Traceback" not in output


@pytest.mark.mlflow_server
def test_serve_starts_the_mlflow_ui_and_stops_it_on_exit(tmp_path):
    port, ui_port = free_port(), free_port()
    proc = serve(tmp_path, "--port", str(port),
                 PROVENANT_MLFLOW_UI_URL=f"http://127.0.0.1:{ui_port}",
                 PROVENANT_REPAIR_INTERVAL_SECONDS="0")
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}/api/health", proc).status_code == 200
        assert wait_healthy(f"http://127.0.0.1:{ui_port}/health", proc).status_code == 200
    finally:
        code, output = stop(proc)
    assert code == 0, output
    assert not listening(ui_port), "the MLflow UI outlived `provenant serve`"
    assert (tmp_path / "home" / "mlflow-ui.log").exists()


def test_serve_starts_no_ui_for_a_tracking_server(tmp_path):
    port, ui_port = free_port(), free_port()
    proc = serve(tmp_path, "--port", str(port),
                 PROVENANT_MLFLOW_TRACKING_URI="http://127.0.0.1:9",
                 PROVENANT_MLFLOW_UI_URL=f"http://127.0.0.1:{ui_port}")
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}/api/health", proc).status_code == 200
    finally:
        code, output = stop(proc)
    assert code == 0, output
    assert "MLflow UI on" not in output
    assert not (tmp_path / "home" / "mlflow-ui.log").exists()


def test_serve_with_two_workers_serves_and_stops_them_all(tmp_path):
    port = free_port()
    proc = serve(tmp_path, "--no-mlflow-ui", "--port", str(port), "--workers", "2",
                 PROVENANT_REPAIR_INTERVAL_SECONDS="0")
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_healthy(f"{base}/api/health", proc).status_code == 200
        workers = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "multiprocessing.spawn"],
                                 capture_output=True, text=True).stdout.split()
        assert len(workers) == 2
        created = httpx.post(f"{base}/api/artifacts", json={
            "type": "signal", "name": "TSLA signal", "symbol": "TSLA",
            "payload": {"action": "BUY", "confidence": 0.5}})
        assert created.status_code == 201, created.text
        # Fresh connections land on either worker; every one sees the same store.
        for _ in range(6):
            with httpx.Client() as client:
                assert client.get(f"{base}/api/artifacts/{created.json()['id']}").status_code == 200
    finally:
        code, output = stop(proc)
    assert code == 0, output
    assert not listening(port)
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived `provenant serve`"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "provenant.example"])
def test_serve_refuses_a_non_loopback_host_without_a_token(tmp_path, host):
    port = free_port()
    proc = serve(tmp_path, "--no-mlflow-ui", "--host", host, "--port", str(port))
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert output.strip().splitlines() == [
        f"Error: refusing to serve on {host} without PROVENANT_API_TOKEN (anyone who can reach "
        "it could write artifacts): set the token, or pass --allow-unauthenticated-writes"]
    assert not listening(port)


@pytest.mark.parametrize("flag,env,warned", [
    (["--allow-unauthenticated-writes"], {}, True),
    ([], {"PROVENANT_API_TOKEN": "s3cret-token"}, False)])
def test_serve_on_all_interfaces_with_a_token_or_the_flag(tmp_path, flag, env, warned):
    port = free_port()
    proc = serve(tmp_path, "--no-mlflow-ui", "--host", "0.0.0.0", "--port", str(port), *flag,
                 PROVENANT_REPAIR_INTERVAL_SECONDS="0", **env)
    try:
        assert wait_healthy(f"http://127.0.0.1:{port}/api/health", proc).status_code == 200
    finally:
        code, output = stop(proc)
    assert code == 0, output
    assert ("Warning: serving on 0.0.0.0 without PROVENANT_API_TOKEN" in output) is warned
