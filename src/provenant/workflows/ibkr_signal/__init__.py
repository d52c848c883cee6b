"""ibkr_trading_signal_workflow: its steps, their typed inputs and outputs, charts and logging."""
from provenant.workflows.ibkr_signal.steps import WORKFLOW, WORKFLOW_ID

__all__ = ["WORKFLOW", "WORKFLOW_ID"]
