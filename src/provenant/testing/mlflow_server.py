"""Start a real `mlflow server` on loopback, for tests and benchmarks."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """`mlflow server` as a subprocess on a SQLite backend store; stop() and start() again."""

    def __init__(self, workdir: Path, backend_uri: str | None = None, port: int | None = None,
                 workers: int = 2):
        self.workdir = workdir
        self.workers = workers  # 1 starts in about half the time on a busy 2-core machine
        self.backend_uri = backend_uri or f"sqlite:///{workdir / 'mlflow.db'}"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> "MlflowServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "mlflow-server.log", "ab")
        cmd = [str(Path(sys.executable).with_name("mlflow")), "server",
               "--backend-store-uri", self.backend_uri,
               "--artifacts-destination", str(self.workdir / "mlartifacts"),
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited; see {self.workdir}/mlflow-server.log")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("mlflow server did not become healthy in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        self.proc = None
