"""The lineage audit log (which artifacts were repaired, when, and by what) and verify."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from provenant import runtime
from provenant.domain.reports import RepairLog, VerifyReport
from provenant.http.api.schemas import ErrorOut, error_responses
from provenant.http.deps import ServicesDep

router = APIRouter(prefix="/api/lineage", tags=["lineage"])


@router.get("/repairs", response_model=RepairLog, responses=error_responses(422, 503))
def list_repairs(services: ServicesDep,
                 artifact_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> RepairLog:
    """Audit rows (source `hydrate` or `repair`), newest first; optionally of one artifact."""
    return RepairLog(items=services.artifacts.repairs(artifact_id, limit=limit))


@router.get("/verify", response_model=VerifyReport, responses={
    200: {"description": "Every artifact checked: `mismatches` names each problem found and "
                         "the check that caught it (empty when all is well)."},
    **error_responses(422),
    503: {"model": VerifyReport | ErrorOut,
          "description": "MLflow or the database failed: the report's `errors` say how."}})
def verify(services: ServicesDep, response: Response,
           deep: Annotated[bool, Query(description="Read every run's manifest file, not its "
                                                   "inline tag copy (one request per run).")]
           = False) -> VerifyReport:
    """`provenant lineage verify --json` over HTTP: each artifact's run against MLflow, its
    content against its hash and its run's manifest, and decision chains for missing links.

    A problem found is a finding, not a failure of the request (200); 503 when MLflow could
    not be asked.
    """
    report = runtime.verify(services, deep)
    response.status_code = 503 if report.errors else 200
    return report
