"""Artifacts: store one, list them (stored lineage only), read one (hydrated), update one.

Every path also answers with a trailing slash, as the previous system's clients call it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Response

from provenant.domain.artifacts import ArtifactType
from provenant.http.api.compat import (
    ARTIFACT_BODY_OPENAPI, ArtifactBody, ArtifactPatch, FlatArtifactIn, ImageUnreachable,
    fetched_image)
from provenant.http.api.schemas import (
    ArtifactOut, ArtifactPage, StoredArtifactOut, artifact_out, error_responses)
from provenant.http.deps import ArtifactId, HydratorDep, ReadThreadsDep, ServicesDep, WriterDep
from provenant.service.market_windows import market_window_of
from provenant.service.patching import patch_artifact

router = APIRouter(prefix="/api/artifacts", tags=["artifacts"])
log = logging.getLogger("provenant.api")

Filter = Annotated[str | None, Query(max_length=250)]


def route(method: str, path: str, **options: Any) -> Callable:
    """Register a route at `path` and at `path` + "/" (its own operation id in OpenAPI)."""
    def register(endpoint: Callable) -> Callable:
        router.add_api_route(path, endpoint, methods=[method], **options)
        router.add_api_route(path + "/", endpoint, methods=[method],
                             operation_id=f"{endpoint.__name__}_trailing_slash", **options)
        return endpoint
    return register


@route("POST", "", status_code=201, response_model=StoredArtifactOut,
       openapi_extra=ARTIFACT_BODY_OPENAPI,
       responses=error_responses(400, 401, 404, 409, 413, 422, 502, 503))
def create_artifact(body: ArtifactBody, services: ServicesDep, writer: WriterDep,
                    response: Response) -> StoredArtifactOut:
    """Store an artifact (today's body, or the previous system's flat one); its lineage is
    resolved as by the Python store functions.

    Idempotent under (workflow_id, execution_id, step_name, name): the same content again
    answers the stored artifact, a different content 409. A flat chart whose image_path URL
    answers an HTML page is stored without an image, with a `warnings` entry saying so.
    """
    image, warnings = None, []
    if isinstance(body, FlatArtifactIn):
        kind, payload = body.typed()
        try:
            image, warnings = fetched_image(body.image_path,
                                            services.settings.image_fetch_prefix_list)
        except ImageUnreachable as exc:
            raise HTTPException(502, str(exc)) from None
    else:
        kind, payload = body.type, body.payload
    try:
        artifact = writer.store(kind, name=body.name, symbol=body.symbol, payload=payload,
                                image=image, step_name=body.step_name,
                                workflow_id=body.workflow_id, execution_id=body.execution_id,
                                run_id=body.run_id, experiment_id=body.experiment_id,
                                dag_id=body.dag_id, task_id=body.task_id,
                                inputs=body.inputs)
    except LookupError as exc:  # an explicit run id that MLflow does not know
        raise HTTPException(422, str(exc)) from None
    response.headers["Location"] = f"/api/artifacts/{artifact.id}"
    for warning in warnings:
        log.warning("artifact %s stored with a warning: %s", artifact.id, warning)
    out = artifact_out(artifact, artifact.lineage_status, services.settings)
    return StoredArtifactOut(**out.model_dump(), warnings=warnings)


@route("GET", "", response_model=ArtifactPage, responses=error_responses(400, 422, 503))
def list_artifacts(services: ServicesDep, type: ArtifactType | None = None,
                   symbol: Filter = None, workflow_id: Filter = None,
                   execution_id: Filter = None, run_id: Filter = None,
                   group_by: Literal["execution_id"] | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: Annotated[str | None, Query(max_length=100)] = None) -> ArtifactPage:
    """Newest first, keyset-paginated; shows stored lineage and never calls MLflow."""
    filters = {"type": type.value if type else None, "symbol": symbol,
               "workflow_id": workflow_id, "execution_id": execution_id, "run_id": run_id}
    items, next_cursor = services.artifacts.list(limit=limit, cursor=cursor, **filters)
    settings = services.settings
    out = [artifact_out(a, a.lineage_status, settings) for a in items]
    page = ArtifactPage(items=out, artifacts=out, next_cursor=next_cursor,
                        total=services.artifacts.count_matching(**filters))
    if group_by == "execution_id":
        grouped: dict[str, list[ArtifactOut]] = {}
        for artifact in out:  # newest first, so groups come newest first too
            grouped.setdefault(artifact.execution_id or "ungrouped", []).append(artifact)
        page.grouped, page.group_count = grouped, len(grouped)
    return page


@router.get("/stats/summary", responses=error_responses(503))
def artifact_stats(services: ServicesDep) -> dict[str, Any]:
    """Counts: `total`, and `by_type`, `by_lineage`, `by_symbol`, `by_workflow`."""
    summary = services.artifacts.summary()
    by_type = {kind.value: 0 for kind in ArtifactType} | summary.pop("by_type")
    return {"total": sum(by_type.values()), "by_type": by_type, **summary}


@route("GET", "/{artifact_id}", response_model=ArtifactOut,
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


@route("PATCH", "/{artifact_id}", response_model=ArtifactOut,
       responses=error_responses(400, 401, 404, 409, 413, 422, 503))
def update_artifact(artifact_id: ArtifactId, body: ArtifactPatch,
                    services: ServicesDep) -> ArtifactOut:
    """Merge fields into the payload, and attach lineage once (a run MLflow knows whose
    experiment matches; an audit row with source `attach`; different lineage is a 409).

    A payload change re-computes the content hash and records a revision (old hash, new
    hash, changed keys, when) that `lineage verify` accepts; an artifact its run's manifest
    lists is sealed: a change is a 409, nothing written."""
    artifact = patch_artifact(services.artifacts, services.tracker, artifact_id,
                              body.updates(), body.run_id, body.experiment_id)
    return artifact_out(artifact, artifact.lineage_status, services.settings)


@route("DELETE", "/{artifact_id}", status_code=405, responses=error_responses(401, 405, 422))
def delete_artifact(artifact_id: ArtifactId) -> None:
    """Refused: artifacts are audit evidence and are never deleted."""
    raise HTTPException(405, f"artifact {artifact_id} is audit evidence and cannot be deleted",
                        headers={"Allow": "GET, PATCH"})


@router.get("/{artifact_id}/market-data", responses=error_responses(404, 422, 503))
def artifact_market_data(artifact_id: ArtifactId, services: ServicesDep) -> dict[str, Any]:
    """The OHLCV window a chart was drawn from: `symbol`, `count`, `data` (bars of date, open,
    high, low, close, volume) and `source`: the market_data artifact the chart names as its
    input (`artifact N: payload.bars`), else where in the chart's own payload the bars are."""
    artifact = services.artifacts.get(artifact_id)
    if artifact is None:
        raise HTTPException(404, f"artifact {artifact_id} not found")
    window = market_window_of(services.artifacts, artifact)
    if window is None:
        raise HTTPException(404, f"artifact {artifact_id} has no market data window stored")
    return {"artifact_id": artifact_id, "symbol": artifact.symbol, "count": len(window.bars),
            "data": window.bars, "source": window.source}
