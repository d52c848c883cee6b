"""`provenant demo`: run the workflow on every bundled symbol, then serve the UIs."""
from __future__ import annotations

from provenant.cli.app import app, console
from provenant.cli.serve import serve, sigterm_as_ctrl_c
from provenant.workflows.ibkr_signal import WORKFLOW_ID

DEMO_SYMBOLS = ("TSLA", "MSFT", "NVDA", "NFLX", "AMZN")


@app.command("demo")
def demo(port: int = 8000) -> None:
    """Run ibkr_trading_signal_workflow for the bundled symbols, then `provenant serve`."""
    from provenant.bootstrap import get_services
    from provenant.workflows import WorkflowFailed, run_workflow

    with sigterm_as_ctrl_c():  # also mid-workflow: its MLflow run ends FAILED, not RUNNING
        for symbol in DEMO_SYMBOLS:
            try:
                result = run_workflow(WORKFLOW_ID, symbol, services=get_services())
            except WorkflowFailed as exc:
                console.print(f"[red]{symbol}: failed[/red] {exc}")
                continue
            console.print(f"{symbol}: run {result.run_id}, {len(result.artifacts)} artifacts")
        serve(host="127.0.0.1", port=port, mlflow_ui=True)
