"""Artifacts: store one, list them (stored lineage only), read one (hydrated)."""
from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Response

from provenant.http.deps import ArtifactId, HydratorDep, ReadThreadsDep, ServicesDep, WriterDep
from provenant.http.api.schemas import (
    ArtifactIn, ArtifactOut, ArtifactPage, artifact_out, error_responses)
from provenant.domain.artifacts import ArtifactType

router = APIRouter(prefix="/api/artifacts", tags=["artifacts"])

Filter = Annotated[str | None, Query(max_length=250)]


@router.post("", status_code=201, response_model=ArtifactOut,
             responses=error_responses(400, 401, 413, 422, 503))
def create_artifact(body: ArtifactIn, services: ServicesDep, writer: WriterDep,
                    response: Response) -> ArtifactOut:
    """Store an artifact; its lineage is resolved as by the Python store functions."""
    try:
        artifact = writer.store(body.type, name=body.name, symbol=body.symbol,
                                payload=body.payload, step_name=body.step_name,
                                workflow_id=body.workflow_id, execution_id=body.execution_id,
                                run_id=body.run_id, experiment_id=body.experiment_id,
                                dag_id=body.dag_id, task_id=body.task_id,
                                inputs=body.inputs)
    except LookupError as exc:  # an explicit run id that MLflow does not know
        raise HTTPException(422, str(exc)) from None
    response.headers["Location"] = f"/api/artifacts/{artifact.id}"
    return artifact_out(artifact, artifact.lineage_status, services.settings)


@router.get("", response_model=ArtifactPage, responses=error_responses(400, 422, 503))
def list_artifacts(services: ServicesDep, type: ArtifactType | None = None,
                   symbol: Filter = None, workflow_id: Filter = None,
                   execution_id: Filter = None, run_id: Filter = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: Annotated[str | None, Query(max_length=100)] = None) -> ArtifactPage:
    """Newest first, keyset-paginated; shows stored lineage and never calls MLflow."""
    items, next_cursor = services.artifacts.list(
        limit=limit, cursor=cursor, type=type.value if type else None, symbol=symbol,
        workflow_id=workflow_id, execution_id=execution_id, run_id=run_id)
    settings = services.settings
    return ArtifactPage(items=[artifact_out(a, a.lineage_status, settings) for a in items],
                        next_cursor=next_cursor)


@router.get("/{artifact_id}", response_model=ArtifactOut,
            responses=error_responses(404, 422, 503))
async def get_artifact(artifact_id: ArtifactId, services: ServicesDep, hydrator: HydratorDep,
                       reads: ReadThreadsDep) -> ArtifactOut:
    """One artifact; missing lineage is looked up in MLflow (bounded) and stored once."""
    artifact = await to_thread.run_sync(services.artifacts.get, artifact_id, limiter=reads)
    if artifact is None:
        raise HTTPException(404, f"artifact {artifact_id} not found")
    if hydrator.needs_lookup(artifact):  # may wait on MLflow: not in the few read threads
        artifact, status = await to_thread.run_sync(hydrator.hydrate, artifact)
    else:
        status = artifact.lineage_status
    return artifact_out(artifact, status, services.settings)
