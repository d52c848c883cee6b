"""HTTP servers in subprocesses for the read benchmark: the Provenant API and `mlflow server`.

Both run as ONE process by default, or with N workers (`--workers N`). Under plain
asyncio, `--workers N > 1` lost TCP_NODELAY (uvicorn binds the shared socket without
IPPROTO_TCP) and Nagle met the client's delayed ACK, +40 ms per response; uvloop, now
installed, sets TCP_NODELAY itself.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from provenant.testing.mlflow_server import MlflowServer, free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def provenant_serve(env: dict[str, str], log_path: Path, workers: int = 1) -> Iterator[str]:
    """The `provenant serve` command itself (no MLflow UI) on a loopback port; yield its URL."""
    port = free_port()
    cmd = [str(Path(sys.executable).with_name("provenant")), "serve", "--host", "127.0.0.1",
           "--port", str(port), "--no-mlflow-ui", "--workers", str(workers)]
    with _serve(cmd, f"http://127.0.0.1:{port}", "/api/health", env, log_path) as url:
        yield url


@contextmanager
def mlflow_api(backend_uri: str, workdir: Path, workers: int = 1) -> Iterator[str]:
    """Another `mlflow server` on an existing backend store, with a chosen worker count."""
    server = MlflowServer(workdir, backend_uri, workers=workers).start(timeout=120)
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def _serve(cmd: list[str], url: str, health_path: str, env: dict[str, str], log_path: Path,
           timeout: float = 120) -> Iterator[str]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **env}, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url + health_path):
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy in {timeout:.0f} s; see {log_path}")
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(5)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
