"""The lineage audit log: which artifacts were repaired, when, and by what."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from provenant.http.deps import ServicesDep
from provenant.http.api.schemas import RepairList, error_responses, repair_out

router = APIRouter(prefix="/api/lineage", tags=["lineage"])


@router.get("/repairs", response_model=RepairList, responses=error_responses(422, 503))
def list_repairs(services: ServicesDep,
                 artifact_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> RepairList:
    """Audit rows (source `hydrate` or `repair`), newest first; optionally of one artifact."""
    repairs = services.artifacts.repairs(artifact_id, limit=limit)
    return RepairList(items=[repair_out(r) for r in repairs])
