"""A legacy backlog whose executions also have older runs and newer runs of another workflow."""
from __future__ import annotations

from mlflow.tracking import MlflowClient

from tests.integration.test_repair_concurrency import legacy_with_runs
from tests.support.legacy_db import WORKFLOW, bulk_create_runs

NEWEST_START = 1_763_214_871_000  # the start time legacy_with_runs gives its runs


def legacy_backlog(services, mlflow_uri, tmp_path, executions: int,
                   per_execution: int = 5) -> dict[int, tuple[str, str]]:
    """`executions * per_execution` legacy artifacts without lineage; id -> the newest run.

    Each execution also gets an older run of its workflow and a newer run of another
    workflow, so only a repair that picks "newest of this workflow" gets every one right.
    """
    run_of = legacy_with_runs(services, mlflow_uri, tmp_path, executions, per_execution)
    client = MlflowClient(mlflow_uri)
    experiment = client.get_experiment_by_name("legacy").experiment_id
    execution_ids = sorted({a.execution_id for a in services.artifacts.get_many(run_of)})
    bulk_create_runs(mlflow_uri, experiment,
                     [(e, WORKFLOW, NEWEST_START - 60_000) for e in execution_ids])
    bulk_create_runs(mlflow_uri, client.create_experiment("another-workflow"),
                     [(e, "another_workflow", NEWEST_START + 60_000) for e in execution_ids])
    return {artifact_id: (run_id, experiment) for artifact_id, run_id in run_of.items()}
