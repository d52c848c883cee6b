"""The lineage audit log: which artifacts were repaired, when, and by what."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from provenant.http.deps import ServicesDep
from provenant.domain.reports import RepairLog
from provenant.http.api.schemas import error_responses

router = APIRouter(prefix="/api/lineage", tags=["lineage"])


@router.get("/repairs", response_model=RepairLog, responses=error_responses(422, 503))
def list_repairs(services: ServicesDep,
                 artifact_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> RepairLog:
    """Audit rows (source `hydrate` or `repair`), newest first; optionally of one artifact."""
    return RepairLog(items=services.artifacts.repairs(artifact_id, limit=limit))
