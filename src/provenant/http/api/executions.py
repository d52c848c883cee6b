"""One workflow execution: all its artifacts, and the MLflow run they belong to."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException

from provenant.http.deps import HydratorDep, ServicesDep
from provenant.http.api.schemas import ExecutionOut, RunOut, artifact_out, error_responses
from provenant.domain.lineage import mlflow_run_url

router = APIRouter(prefix="/api/executions", tags=["executions"])


# `:path` so that ids holding "/" (URL-encoded as %2F) still reach this route.
@router.get("/{execution_id:path}", response_model=ExecutionOut,
            responses=error_responses(404, 503))
def get_execution(execution_id: str, services: ServicesDep,
                  hydrator: HydratorDep) -> ExecutionOut:
    """The execution's artifacts in store order, hydrated with one lookup per workflow."""
    artifacts = services.artifacts.by_execution(execution_id)
    if not artifacts:
        raise HTTPException(404, f"no artifacts for execution {execution_id!r}")
    hydrated = hydrator.hydrate_many(artifacts)
    # Stored lineage is the resolver's earlier answer; ask it again only when they disagree
    # or none is known yet, so the same run wins here as for each artifact.
    stored = {a.lineage for a, _ in hydrated if a.lineage is not None}
    workflows = {a.workflow_id for a in artifacts}
    lineage = stored.pop() if len(stored) == 1 else hydrator.lineage_of(
        (workflows.pop() if len(workflows) == 1 else None, execution_id))
    settings = services.settings
    run = (RunOut(run_id=lineage.run_id, experiment_id=lineage.experiment_id,
                  mlflow_run_url=mlflow_run_url(settings.mlflow_ui_url, lineage))
           if lineage else None)
    return ExecutionOut(execution_id=execution_id, run=run,
                        artifacts=[artifact_out(a, status, settings) for a, status in hydrated])
