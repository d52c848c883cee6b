"""Airflow DAG `ibkr_trading_signal_workflow`: the same steps as `provenant run`, one task each.

The DAG run's `run_id` is the execution id. The first task opens the execution's
MLflow run; every later task resumes it by the run id handed down through XCom, so all
artifacts of the DAG run carry one run's ids, even with each task on another worker.
`log_to_mlflow` ends the run FINISHED; a failing task marks it FAILED. Tasks read the
same PROVENANT_* settings as the CLI; the params below override some per run.
"""
from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from provenant.airflow.workflow import WORKFLOW_ID, run_step, step_names


def _choice(*values: str, description: str) -> Param:
    # None (the default) means: use the worker's PROVENANT_* setting.
    return Param(None, type=["null", "string"], enum=[None, *values], description=description)


@dag(
    dag_id=WORKFLOW_ID,
    schedule=None,
    catchup=False,
    tags=["provenant", "trading"],
    doc_md=__doc__,
    params={
        "symbol": Param("TSLA", type="string", minLength=1, maxLength=32,
                        description="Ticker to analyse, e.g. TSLA"),
        "market_data_provider": _choice(
            "bundled", "csv", "ibkr",
            description="Market data source (default PROVENANT_MARKET_DATA_PROVIDER)"),
        "market_data_csv": Param(None, type=["null", "string"],
                                 description="OHLCV file for the csv provider, on the workers "
                                             "(default PROVENANT_MARKET_DATA_CSV)"),
        "analyst": _choice("rules", "openai", description="Analyst (default PROVENANT_ANALYST)"),
    },
)
def ibkr_trading_signal_workflow():
    @task(multiple_outputs=False)  # one XCom: the state dict is handed on whole
    def step(step_name: str, state: dict | None) -> dict:
        """One workflow step in the DAG run's MLflow run (execution id = the DAG run id)."""
        context = get_current_context()
        return run_step(step_name, context["run_id"], state, dict(context["params"]))

    state = None
    for name in step_names():
        state = step.override(task_id=name)(name, state)


ibkr_trading_signal_workflow()
