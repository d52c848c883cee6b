"""The decision chain of an artifact: what it was derived from, or what was derived from it."""
from __future__ import annotations

from typing import Literal

from anyio import to_thread
from fastapi import APIRouter

from provenant import runtime
from provenant.domain.provenance import Provenance
from provenant.http.api.schemas import error_responses
from provenant.http.deps import ArtifactId, ServicesDep

router = APIRouter(prefix="/api/artifacts", tags=["provenance"])


@router.get("/{artifact_id}/provenance", response_model=Provenance,
            responses=error_responses(404, 422, 503))
async def get_provenance(artifact_id: ArtifactId, services: ServicesDep,
                         direction: Literal["up", "down"] = "up") -> Provenance:
    """Nodes (artifacts with lineage, content hash and verification state) and their edges."""
    # `async def` and one hop to the thread pool: a plain `def` route took two (FastAPI
    # validates a sync route's answer in the pool too), each a wake-up of another thread
    # that a loaded machine makes wait. Not the few read threads: with an S3 blob store
    # the image reads are network calls.
    return await to_thread.run_sync(runtime.provenance, services, artifact_id, direction)
