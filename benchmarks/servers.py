"""The Provenant API under uvicorn in a subprocess, the way it is deployed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.mlflow_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def app_factory():
    """uvicorn --factory entry point: the app on services read from PROVENANT_* variables."""
    from provenant.api.app import create_app

    return create_app()


@contextmanager
def provenant_api(env: dict[str, str], log_path: Path, workers: int = 2,
                  timeout: float = 90) -> Iterator[str]:
    """Serve the API on a loopback port; yield its base URL; stop it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "benchmarks.servers:app_factory", "--factory",
           "--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--log-level", "warning"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **env}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, f"{url}/api/health", timeout, log_path)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(5)


def _wait_healthy(proc: subprocess.Popen, health_url: str, timeout: float,
                  log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"API server exited; see {log_path}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"API server did not become healthy in {timeout:.0f} s; see {log_path}")
