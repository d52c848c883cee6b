"""The MLflow UI beside `provenant serve`: an `mlflow server` on the same tracking store."""
from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from provenant.adapters.mlflow_tracker import configure_mlflow_client
from provenant.config import Settings

log = logging.getLogger("provenant.adapters.mlflow_ui")

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on (host, port)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then deliver them.

    A signal landing between fork and `self.proc = ...` (or in the middle of a stop)
    would otherwise leave a child that nobody stops. Handlers, not a signal mask: in a
    threaded process the kernel would hand a masked signal to another thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets signals in Python
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: caught.append(signum))
                for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


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
        configure_mlflow_client()  # no telemetry from the UI server either
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log_path, "ab") as out, stop_signals_deferred():
            # Own session: Ctrl-C reaches only us, and we stop the whole group on exit.
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)
            atexit.register(self.stop)  # a backstop for exits that skip the caller's finally
        log.info("MLflow UI starting on http://127.0.0.1:%s (log: %s)", self.port, self.log_path)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and every process of its group; kill what outlives `timeout`."""
        with stop_signals_deferred():  # a second Ctrl-C must not abandon the stop halfway
            proc, self.proc = self.proc, None
            atexit.unregister(self.stop)
            if proc is None:
                return
            # The group id is the leader's pid (own session); its uvicorn worker may outlive it.
            for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
                if not _group_alive(proc.pid):
                    break
                os.killpg(proc.pid, sig)
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and _group_alive(proc.pid):
                    proc.poll()  # reap the leader: a zombie would keep the group "alive"
                    time.sleep(0.05)
            proc.poll()
