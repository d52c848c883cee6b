"""The workflow DAG's task body, in plain Python: one workflow step per Airflow task.

State travels between tasks as the JSON dict :func:`execute_step` returns (Airflow
stores it as the task's XCom). It carries the MLflow ``run_id`` the first task opened,
so every later task, whatever process or worker it lands on, resumes that run by id
instead of opening another one.
"""
from __future__ import annotations

from typing import Any

from provenant.workflows.ibkr_signal import WORKFLOW_ID

# DAG params that become the execution's run parameters (None: the PROVENANT_* setting).
RUN_PARAMS = ("market_data_provider", "market_data_csv", "analyst")


def step_names() -> tuple[str, ...]:
    """The workflow's steps in order: one task each."""
    from provenant.workflows import get_workflow

    return get_workflow(WORKFLOW_ID).step_names


def run_step(step_name: str, execution_id: str, state: dict[str, Any] | None,
             params: dict[str, Any]) -> dict[str, Any]:
    """Run one step inside the execution's MLflow run; the state for the next task.

    The first task (no state yet) fixes the run's parameters from the DAG params and
    opens the run; the last step ends it FINISHED; a failing step marks it FAILED.
    """
    from provenant.bootstrap import get_services
    from provenant.workflows import execute_step, start_inputs

    services = get_services()
    if state is None:
        overrides = {key: params.get(key) or None for key in RUN_PARAMS}
        state = start_inputs(WORKFLOW_ID, str(params.get("symbol") or ""), overrides,
                             settings=services.settings)
    return execute_step(WORKFLOW_ID, step_name, execution_id, state, services=services)
