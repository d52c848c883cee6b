"""`airflow dags test ibkr_trading_signal_workflow`: a failing task fails the DAG run's MLflow run.

The successful path runs on the real Celery deployment (test_celery_deployment.py).
"""
from __future__ import annotations

from mlflow.tracking import MlflowClient

from provenant.adapters.tracking import EXECUTION_TAG
from provenant.airflow.workflow import WORKFLOW_ID
from tests.support.mlflow_server import free_port


def _runs_of(tracking_uri: str, execution_id: str) -> list:
    """Every MLflow run, in any experiment, tagged with this execution id."""
    client = MlflowClient(tracking_uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiment_ids, max_results=1000)
    return [r for r in runs if r.data.tags.get(EXECUTION_TAG) == execution_id]


def test_failing_task_marks_the_run_failed_and_keeps_earlier_artifacts_linked(
        airflow_stack, provenant_env, provenant_services):
    # An OpenAI-compatible analyst on a port nobody listens on: analyze_with_llm fails.
    env = {**provenant_env, "PROVENANT_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
           "PROVENANT_LLM_API_KEY": "test", "PROVENANT_LLM_MAX_ATTEMPTS": "1"}
    result = airflow_stack.dags_test(WORKFLOW_ID, env=env,
                                     conf={"symbol": "TSLA", "analyst": "openai"},
                                     logical_date="2026-01-06T14:30:00+00:00")

    assert result.returncode != 0
    assert "step analyze_with_llm failed" in result.output
    states = {t: row["state"] for t, row in
              airflow_stack.task_instances(WORKFLOW_ID, result.run_id).items()}
    assert states["generate_weekly_chart"] == "success"
    assert states["analyze_with_llm"] == "failed"
    assert states["log_to_mlflow"] == "upstream_failed"
    runs = _runs_of(provenant_env["PROVENANT_MLFLOW_TRACKING_URI"], result.run_id)
    assert [r.info.status for r in runs] == ["FAILED"]
    charts = provenant_services.artifacts.by_execution(result.run_id)
    assert sorted(a.payload["chart_type"] for a in charts if str(a.type) == "chart") == [
        "daily", "weekly"]
    assert {a.run_id for a in charts} == {runs[0].info.run_id}
