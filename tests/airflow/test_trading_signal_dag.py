"""`airflow dags test ibkr_trading_signal_workflow`: one MLflow run per DAG run, every task."""
from __future__ import annotations

from mlflow.tracking import MlflowClient

from provenant.airflow.workflow import WORKFLOW_ID, step_names
from provenant.adapters.mlflow_tracker import EXECUTION_TAG, WORKFLOW_TAG
from provenant.workflows.ibkr_signal.mlflow_logging import ARTIFACT_IDS_TAG

from tests.support.mlflow_server import free_port


def _runs_of(tracking_uri: str, execution_id: str) -> list:
    """Every MLflow run, in any experiment, tagged with this execution id."""
    client = MlflowClient(tracking_uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiment_ids, max_results=1000)
    return [r for r in runs if r.data.tags.get(EXECUTION_TAG) == execution_id]


def test_dag_run_is_one_finished_mlflow_run_resumed_by_each_task_process(
        airflow_stack, provenant_env, provenant_services):
    result = airflow_stack.dags_test(WORKFLOW_ID, env=provenant_env, conf={"symbol": "msft"},
                                     logical_date="2026-01-05T14:30:00+00:00")

    assert result.returncode == 0, result.output[-4000:]
    assert result.run_id.startswith("manual__")
    tasks = airflow_stack.task_instances(WORKFLOW_ID, result.run_id)
    assert {t: row["state"] for t, row in tasks.items()} == {
        name: "success" for name in step_names()}
    # Airflow records the process that ran each task: seven tasks, seven processes.
    assert len({row["pid"] for row in tasks.values()}) == len(step_names())

    runs = _runs_of(provenant_env["PROVENANT_MLFLOW_TRACKING_URI"], result.run_id)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags[WORKFLOW_TAG] == WORKFLOW_ID
    assert run.data.params["symbol"] == "MSFT"

    # The first task opened the run; each later task got its id through XCom and resumed it.
    pushed = airflow_stack.xcoms(WORKFLOW_ID, result.run_id)
    assert {t: set(keys) for t, keys in pushed.items()} == {
        name: {"return_value"} for name in step_names()}  # the state once, not per key
    handed_down = {t: keys["return_value"] for t, keys in pushed.items()}
    assert {t: state["run_id"] for t, state in handed_down.items()} == {
        name: run.info.run_id for name in step_names()}
    assert handed_down["log_to_mlflow"]["logged_run_id"] == run.info.run_id

    artifacts = provenant_services.artifacts.by_execution(result.run_id)
    assert {str(a.type) for a in artifacts} >= {"chart", "llm", "signal"}
    assert {(a.run_id, a.experiment_id, a.workflow_id) for a in artifacts} == {
        (run.info.run_id, run.info.experiment_id, WORKFLOW_ID)}
    logged = run.data.tags[ARTIFACT_IDS_TAG].split(",")
    assert sorted(map(int, logged)) == sorted(a.id for a in artifacts)


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
