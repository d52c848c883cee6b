"""`airflow dags test artifact_lineage_repair` repairs a legacy artifact with no run id."""
from __future__ import annotations

from provenant.domain.artifacts import ArtifactType, NewArtifact
from provenant.adapters.mlflow_tracker import EXECUTION_TAG

DAG_ID = "artifact_lineage_repair"
# The previous system's execution ids look like this (spaces, '+', ':').
LEGACY_EXECUTION_ID = "2025-11-15 13:54:31.981650+00:00"


def _seed_legacy(services) -> tuple[int, str, str]:
    """A legacy signal artifact without lineage, and the MLflow run of its execution."""
    client = services.tracker.client
    experiment_id = client.create_experiment("legacy_trading_signals")
    run = client.create_run(experiment_id, tags={EXECUTION_TAG: LEGACY_EXECUTION_ID})
    client.set_terminated(run.info.run_id, "FINISHED")
    artifact = services.artifacts.add(NewArtifact(
        type=ArtifactType.signal, name="TSLA signal", symbol="TSLA",
        workflow_id="ibkr_trading_signal_workflow", execution_id=LEGACY_EXECUTION_ID,
        step_name="generate_signal", payload={"action": "BUY", "confidence": 0.7}))
    assert artifact.run_id is None
    return artifact.id, run.info.run_id, experiment_id


def test_repair_dag_fills_in_the_run_of_a_legacy_artifact(airflow_stack, provenant_env,
                                                          provenant_services):
    artifact_id, run_id, experiment_id = _seed_legacy(provenant_services)

    result = airflow_stack.dags_test(DAG_ID, env=provenant_env,
                                     logical_date="2026-01-05T10:00:00+00:00")

    assert result.returncode == 0, result.output[-4000:]
    tasks = airflow_stack.task_instances(DAG_ID, result.run_id)
    assert {task_id: row["state"] for task_id, row in tasks.items()} == {
        "repair_lineage": "success"}
    repaired = provenant_services.artifacts.get(artifact_id)
    assert (repaired.run_id, repaired.experiment_id) == (run_id, experiment_id)
    audit = provenant_services.artifacts.repairs(artifact_id)
    assert [(row.run_id, row.source) for row in audit] == [(run_id, "repair")]
