"""`POST /api/lineage/repair`: run the repair job now (a write: needs the API token if set)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from provenant.http.deps import ServicesDep
from provenant.http.api.schemas import ErrorOut, RepairReportOut, error_responses
from provenant.lineage.repair import repair_lineage

router = APIRouter()


class RepairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: StrictBool = False  # JSON true/false only: 0 or "no" are refused, not guessed
    workflow_id: str | None = Field(default=None, min_length=1, max_length=250)


@router.post("/api/lineage/repair", response_model=RepairReportOut, responses={
    **error_responses(400, 401, 413, 422),
    503: {"model": RepairReportOut | ErrorOut,
          "description": "MLflow or the database failed: the report's `errors` say how."}})
def repair(services: ServicesDep, body: RepairRequest | None = None) -> JSONResponse:
    """Repair missing lineage now; 200 with the report, 503 when MLflow or the DB failed."""
    request = body or RepairRequest()
    report = repair_lineage(services, dry_run=request.dry_run, workflow_id=request.workflow_id)
    return JSONResponse(report.to_dict(), status_code=200 if report.ok else 503)
