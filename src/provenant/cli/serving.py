"""Serving the API, the web UI and the MLflow UI: the one implementation `serve` and `demo`
share."""
from __future__ import annotations

import copy
import ipaddress
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from provenant.cli.app import CliError, console
from provenant.config import Settings
from provenant.adapters.mlflow_ui import MlflowUi, port_in_use

APP_FACTORY = "provenant.http.app:create_app"  # create_app() reads the process's settings
UNAUTHENTICATED_FLAG = "--allow-unauthenticated-writes"
WORKER_HEALTHCHECK_SECONDS = 30  # uvicorn's default is 5

# The options `serve` and `demo` share.
HostOption = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535,
                                         help="Port of the API and web UI.")]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`: only this machine can connect."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


def check_exposure(host: str, settings: Settings, allow_unauthenticated: bool,
                   flag_hint: str = "") -> None:
    """Refuse open writes on a non-loopback host (CliError), or warn when explicitly allowed."""
    if is_loopback(host) or settings.api_token:
        return
    if not allow_unauthenticated:
        raise CliError(f"refusing to serve on {host} without PROVENANT_API_TOKEN (anyone who "
                       f"can reach it could write artifacts): set the token{flag_hint}")
    console.print(f"[yellow]Warning:[/yellow] serving on {host} without PROVENANT_API_TOKEN "
                  f"({UNAUTHENTICATED_FLAG}): anyone who can reach it can write artifacts",
                  highlight=False, soft_wrap=True)


def _log_config() -> dict:
    """uvicorn's logging plus provenant's INFO lines (one per lineage repair), in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["provenant"] = {"format": "%(levelname)s:     %(name)s %(message)s"}
    config["handlers"]["provenant"] = {"class": "logging.StreamHandler",
                                       "formatter": "provenant", "stream": "ext://sys.stderr"}
    config["loggers"]["provenant"] = {"handlers": ["provenant"], "level": "INFO",
                                      "propagate": False}
    return config


class StopRequest:
    """Whether Ctrl-C or SIGTERM arrived while serving."""

    requested = False


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[StopRequest]:
    """Let SIGTERM (`kill`, `timeout`, systemd, docker stop) stop us the way Ctrl-C does.

    uvicorn shuts down gracefully on SIGTERM, then re-raises it under the handler it found:
    with Python's default one the process dies on the spot and no `finally` runs, so the
    MLflow UI child lived on. As KeyboardInterrupt it unwinds like Ctrl-C (uvicorn.run
    swallows it) also when it arrives before uvicorn has started. Both signals are noted
    in the StopRequest yielded.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def interrupt(signum, frame):
        stop.requested = True
        signal.default_int_handler(signum, frame)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_ports(host: str, port: int, settings: Settings, mlflow_ui: bool) -> None:
    """CliError naming the port when the API's or the MLflow UI's port is already taken."""
    if port_in_use(host if host not in ("0.0.0.0", "::") else "127.0.0.1", port):
        raise CliError(f"port {port} on {host} is already in use; pick another with --port")
    ui = MlflowUi.for_settings(settings) if mlflow_ui else None
    if ui is not None and port_in_use("127.0.0.1", ui.port):
        raise CliError(f"port {ui.port} for the MLflow UI is already in use: stop what uses "
                       "it, or pick another (--mlflow-ui-port, PROVENANT_MLFLOW_UI_URL), "
                       "or pass --no-mlflow-ui")


def serve_apps(host: str = "127.0.0.1", port: int = 8000, mlflow_ui: bool = True,
               workers: int = 1) -> None:
    """Serve the API and web UI of the process-wide services, with the MLflow UI beside them.

    Blocks until Ctrl-C or SIGTERM, then stops the MLflow UI too. Callers check exposure
    (`check_exposure`) and configure the services first.
    """
    import uvicorn

    from provenant.http.app import create_app
    from provenant.bootstrap import get_services

    services = get_services()
    check_ports(host, port, services.settings, mlflow_ui)
    services.engine  # noqa: B018  (fail now, with a message, if the schema is not ready)
    ui = MlflowUi.for_settings(services.settings) if mlflow_ui else None
    with sigterm_as_ctrl_c() as stop:
        try:
            if ui is not None:
                ui.start()
            console.print(f"Provenant on http://{host}:{port}"
                          + (f", MLflow UI on {services.settings.mlflow_ui_url}" if ui else ""),
                          highlight=False, soft_wrap=True)
            # Workers are new processes: they build the app from the same PROVENANT_* settings.
            app_or_factory = create_app(services) if workers == 1 else APP_FACTORY
            # uvicorn kills a worker that misses its 5 s health ping; on a saturated 2-core
            # machine a busy worker missed it and was killed with requests in flight.
            uvicorn.run(app_or_factory, factory=workers > 1, workers=workers, host=host,
                        port=port, log_level="info", log_config=_log_config(),
                        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)
        except SystemExit:
            # A stop before uvicorn had started is swallowed by uvicorn.run, which then
            # exits 3 ("startup failed"): it was a stop, so leave as Ctrl-C does (130).
            if stop.requested:
                raise KeyboardInterrupt from None
            raise
        finally:
            if ui is not None:
                ui.stop()
