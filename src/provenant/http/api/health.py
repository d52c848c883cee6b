"""`GET /api/health`: is the API up and can it reach its database."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from provenant import __version__
from provenant.http.deps import ServicesDep
from provenant.http.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=HealthOut, responses={
    503: {"model": HealthOut, "description": "The artifact database does not answer."}})
def health(services: ServicesDep) -> JSONResponse:
    """200 `{"status": "ok"}` when the artifact database answers, else 503 `degraded`."""
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the DB means degraded, not a crash
        return JSONResponse({"status": "degraded", "database": type(exc).__name__},
                            status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "version": __version__})
