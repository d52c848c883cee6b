"""Legacy backlogs: artifacts without lineage whose executions have MLflow runs."""
from __future__ import annotations

from mlflow.tracking import MlflowClient

from provenant import runtime

from tests.support.legacy_db import (
    WORKFLOW, LegacyDb, bulk_create_runs, chart_row, signal_row, sqlite_legacy_url)

NEWEST_START = 1_763_214_871_000  # the start time of each execution's matching run
EXECUTIONS, PER_EXECUTION = 40, 5


def legacy_with_runs(services, mlflow_uri, tmp_path, executions: int = EXECUTIONS,
                     per_execution: int = PER_EXECUTION) -> dict[int, str]:
    """Legacy artifacts (200 over 40 executions by default), each execution with a run.

    Returns artifact id -> run id.
    """
    rows, execution_of = [], {}
    for n in range(executions):
        execution = f"2025-11-15 {n // 60 % 24:02d}:{n % 60:02d}:31.{n:06d}+00:00"
        for k in range(per_execution):
            artifact_id = n * per_execution + k + 1
            rows.append(chart_row(artifact_id, execution) if k % 2 else
                        signal_row(artifact_id, execution))
            execution_of[artifact_id] = execution
    url = sqlite_legacy_url(tmp_path / "legacy.db")
    LegacyDb(url).add(*rows).close()
    assert len(runtime.import_rows(services, url).imported) == len(rows)
    experiment = MlflowClient(mlflow_uri).create_experiment("legacy")
    executions = sorted(set(execution_of.values()))
    run_ids = bulk_create_runs(mlflow_uri, experiment,
                               [(e, WORKFLOW, NEWEST_START) for e in executions])
    run_of = dict(zip(executions, run_ids))
    return {artifact_id: run_of[e] for artifact_id, e in execution_of.items()}


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
