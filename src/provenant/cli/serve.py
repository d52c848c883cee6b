"""`provenant serve`: the HTTP API and web UI, with the MLflow UI beside it."""
from __future__ import annotations

import typer

from provenant.cli.app import app
from provenant.cli.serving import (
    UNAUTHENTICATED_FLAG, HostOption, PortOption, check_exposure, serve_apps)


@app.command("serve")
def serve(host: HostOption = "127.0.0.1", port: PortOption = 8000,
          mlflow_ui: bool = typer.Option(True, "--mlflow-ui/--no-mlflow-ui",
                                         help="Also serve the MLflow UI at "
                                              "PROVENANT_MLFLOW_UI_URL's port."),
          workers: int = typer.Option(1, min=1, max=64,
                                      help="API processes; about one per core for more "
                                           "reads per second (each runs the scheduled "
                                           "repair, which is safe to run concurrently)."),
          allow_unauthenticated_writes: bool = typer.Option(
              False, UNAUTHENTICATED_FLAG,
              help="Serve on a non-loopback host without PROVENANT_API_TOKEN "
                   "(anyone who can reach it can write).")
          ) -> None:
    """Serve the API, the web UI and (unless told not to) the MLflow UI; Ctrl-C stops all."""
    from provenant.config import get_settings

    check_exposure(host, get_settings(), allow_unauthenticated_writes,
                   flag_hint=f", or pass {UNAUTHENTICATED_FLAG}")
    serve_apps(host=host, port=port, mlflow_ui=mlflow_ui, workers=workers)
