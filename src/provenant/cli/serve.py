"""`provenant serve`: the HTTP API and web UI, with the MLflow UI beside it."""
from __future__ import annotations

import copy
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from provenant.cli.app import CliError, app, console
from provenant.adapters.mlflow_ui import MlflowUi, port_in_use

APP_FACTORY = "provenant.http.app:create_app"  # create_app() reads the process's settings


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


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """Let SIGTERM (`kill`, `timeout`, systemd, docker stop) stop us the way Ctrl-C does.

    uvicorn shuts down gracefully on SIGTERM, then re-raises it under the handler it found:
    with Python's default one the process dies on the spot and no `finally` runs, so the
    MLflow UI child lived on. As KeyboardInterrupt it unwinds like Ctrl-C (uvicorn.run
    swallows it) also when it arrives before uvicorn has started.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command("serve")
def serve(host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
          port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
          mlflow_ui: bool = typer.Option(True, "--mlflow-ui/--no-mlflow-ui",
                                         help="Also serve the MLflow UI at "
                                              "PROVENANT_MLFLOW_UI_URL's port."),
          workers: int = typer.Option(1, min=1, max=64,
                                      help="API processes; about one per core for more "
                                           "reads per second (each runs the scheduled "
                                           "repair, which is safe to run concurrently).")
          ) -> None:
    """Serve the API, the web UI and (unless told not to) the MLflow UI; Ctrl-C stops all."""
    import uvicorn

    from provenant.http.app import create_app
    from provenant.bootstrap import get_services

    if port_in_use(host if host not in ("0.0.0.0", "::") else "127.0.0.1", port):
        raise CliError(f"port {port} on {host} is already in use; pick another with --port")
    services = get_services()
    services.engine  # noqa: B018  (fail now, with a message, if the schema is not ready)
    ui = MlflowUi.for_settings(services.settings) if mlflow_ui else None
    with sigterm_as_ctrl_c():
        try:
            if ui is not None:
                ui.start()
            console.print(f"Provenant on http://{host}:{port}"
                          + (f", MLflow UI on {services.settings.mlflow_ui_url}" if ui else ""))
            # Workers are new processes: they build the app from the same PROVENANT_* settings.
            app_or_factory = create_app(services) if workers == 1 else APP_FACTORY
            uvicorn.run(app_or_factory, factory=workers > 1, workers=workers, host=host,
                        port=port, log_level="info", log_config=_log_config())
        finally:
            if ui is not None:
                ui.stop()
