"""`provenant demo`: run the workflow on every bundled symbol, then serve the UIs."""
from __future__ import annotations

import typer

from provenant.cli.app import app, console
from provenant.cli.serving import (
    HostOption, PortOption, check_exposure, check_ports, serve_apps, sigterm_as_ctrl_c)

DEMO_SYMBOLS = ("TSLA", "MSFT", "NVDA", "NFLX", "AMZN")


@app.command("demo")
def demo(host: HostOption = "127.0.0.1", port: PortOption = 8000,
         mlflow_ui_port: int | None = typer.Option(
             None, "--mlflow-ui-port", min=1, max=65535,
             help="Port of the MLflow UI (default: PROVENANT_MLFLOW_UI_URL's, 5000); "
                  "deep links follow it.")) -> None:
    """Run ibkr_trading_signal_workflow for the bundled symbols, then serve the UIs."""
    from provenant.bootstrap import configure
    from provenant.config import get_settings
    from provenant.workflows import WorkflowFailed, run_workflow
    from provenant.workflows.ibkr_signal import WORKFLOW_ID

    settings = get_settings()
    if mlflow_ui_port is not None:
        # The MLflow UI is started at, and deep links point to, this one URL.
        settings = settings.model_copy(
            update={"mlflow_ui_url": f"http://127.0.0.1:{mlflow_ui_port}"})
    check_exposure(host, settings, allow_unauthenticated=False)
    check_ports(host, port, settings, mlflow_ui=True)  # before minutes of work, not after
    services = configure(settings)
    with sigterm_as_ctrl_c():  # also mid-workflow: its MLflow run ends FAILED, not RUNNING
        for symbol in DEMO_SYMBOLS:
            try:
                result = run_workflow(WORKFLOW_ID, symbol, services=services)
            except WorkflowFailed as exc:
                console.print(f"[red]{symbol}: failed[/red] {exc}", highlight=False)
                continue
            console.print(f"{symbol}: run {result.run_id}, {len(result.artifacts)} artifacts",
                          highlight=False)
        serve_apps(host=host, port=port, mlflow_ui=True)
