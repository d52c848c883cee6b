"""The decision chain of an artifact: what it was derived from, or what was derived from it."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from provenant import runtime
from provenant.domain.provenance import Provenance
from provenant.http.api.schemas import error_responses
from provenant.http.deps import ArtifactId, ServicesDep

router = APIRouter(prefix="/api/artifacts", tags=["provenance"])


@router.get("/{artifact_id}/provenance", response_model=Provenance,
            responses=error_responses(404, 422, 503))
def get_provenance(artifact_id: ArtifactId, services: ServicesDep,
                   direction: Literal["up", "down"] = "up") -> Provenance:
    """Nodes (artifacts with lineage, content hash and verification state) and their edges."""
    return runtime.provenance(services, artifact_id, direction)
