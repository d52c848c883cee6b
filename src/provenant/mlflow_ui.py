"""The MLflow UI beside `provenant serve`: an `mlflow server` on the same tracking store."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from provenant.config import Settings

log = logging.getLogger("provenant.mlflow_ui")

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# A down tracking server must fail a lookup in seconds, not after MLflow's default
# minutes of retries, or hydration threads pile up behind it.
MLFLOW_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                        "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def limit_mlflow_http_retries() -> None:
    """Short MLflow HTTP retries and timeout for this process, unless the user set them."""
    for name, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on (host, port)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class MlflowUi:
    """`mlflow server` as a child process in its own session, stopped with its parent."""

    def __init__(self, backend_store_uri: str, port: int, log_path: Path) -> None:
        self.backend_store_uri = backend_store_uri
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> "MlflowUi | None":
        """The UI to start for these settings, or None when MLflow already serves one."""
        if settings.tracking_is_server:
            return None
        ui = urlparse(settings.mlflow_ui_url)
        if ui.hostname not in _LOOPBACK:
            log.info("PROVENANT_MLFLOW_UI_URL %s is not local; not starting an MLflow UI",
                     settings.mlflow_ui_url)
            return None
        port = ui.port or (443 if ui.scheme == "https" else 80)
        return cls(settings.mlflow_tracking_uri, port, settings.home / "mlflow-ui.log")

    @property
    def command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("mlflow")), "server",
                "--backend-store-uri", self.backend_store_uri,
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]

    def start(self) -> "MlflowUi":
        """Start the server; ValueError (a clear message) when its port is taken."""
        if port_in_use("127.0.0.1", self.port):
            raise ValueError(
                f"port {self.port} for the MLflow UI is already in use: stop what uses it, "
                "set PROVENANT_MLFLOW_UI_URL to another port, or pass --no-mlflow-ui")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log_path, "ab") as out:
            # Own session: Ctrl-C reaches only us, and we stop the whole group on exit.
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)
        log.info("MLflow UI starting on http://127.0.0.1:%s (log: %s)", self.port, self.log_path)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its workers; kill them if they do not exit in time."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass
