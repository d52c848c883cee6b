"""`POST /api/lineage/repair`: run the repair job now (a write: needs the API token if set)."""
from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from provenant import runtime
from provenant.domain.reports import RepairReport
from provenant.http.api.schemas import ErrorOut, error_responses
from provenant.http.deps import ServicesDep

router = APIRouter()


class RepairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: StrictBool = False  # JSON true/false only: 0 or "no" are refused, not guessed
    workflow_id: str | None = Field(default=None, min_length=1, max_length=250)


@router.post("/api/lineage/repair", response_model=RepairReport, responses={
    **error_responses(400, 401, 413, 422),
    503: {"model": RepairReport | ErrorOut,
          "description": "MLflow or the database failed: the report's `errors` say how."}})
def repair(services: ServicesDep, response: Response,
           body: RepairRequest | None = None) -> RepairReport:
    """Repair missing lineage now; 200 with the report, 503 when MLflow or the DB failed."""
    request = body or RepairRequest()
    report = runtime.repair(services, dry_run=request.dry_run, workflow_id=request.workflow_id)
    response.status_code = 200 if report.ok else 503
    return report
