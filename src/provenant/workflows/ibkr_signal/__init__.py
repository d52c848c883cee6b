"""ibkr_trading_signal_workflow: its steps, their typed inputs and outputs, charts and logging.

Only the id lives here, so that naming the workflow (an Airflow DAG file) stays light.
"""
WORKFLOW_ID = "ibkr_trading_signal_workflow"
