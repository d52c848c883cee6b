"""Every error is JSON `{"detail": ...}`; malformed requests get a 4xx, never a 500."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from provenant.api.schemas import describe_errors
from provenant.lineage.tracking import TrackingUnavailable
from provenant.store.blobs import InvalidImage
from provenant.store.outages import describe_database_error
from provenant.store.repository import ArtifactConflict, InvalidCursor

log = logging.getLogger("provenant.api")


def _detail(errors: list[dict]) -> dict:
    # No `input` echo: it may be large, and must never carry a token back.
    return {"detail": describe_errors(errors),
            "errors": [{"loc": list(e.get("loc", ())), "msg": e.get("msg"),
                        "type": e.get("type")} for e in errors]}


def _json(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(_detail(list(exc.errors())), status_code=422)


async def _invalid_value(_request: Request, exc: ValidationError) -> JSONResponse:
    return JSONResponse(_detail(list(exc.errors())), status_code=422)


async def _invalid_image(_request: Request, exc: InvalidImage) -> JSONResponse:
    return _json(422, str(exc))


async def _invalid_cursor(_request: Request, exc: InvalidCursor) -> JSONResponse:
    return _json(400, "invalid cursor: pass the next_cursor of a previous page")


async def _conflict(_request: Request, exc: ArtifactConflict) -> JSONResponse:
    return _json(409, str(exc))


async def _unstorable(_request: Request, exc: DataError) -> JSONResponse:
    # e.g. a NUL character PostgreSQL refuses to store
    return _json(422, "a value cannot be stored (invalid characters or out of range)")


async def _tracking_unavailable(_request: Request, exc: TrackingUnavailable) -> JSONResponse:
    log.warning("tracking unavailable: %s", exc)
    return _json(503, "the MLflow tracking server could not be reached; try again",
                 **{"Retry-After": "5"})


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # Locked, restarting or unreachable passes: 503 and when to retry. Anything else is a bug.
    reason = describe_database_error(exc)
    if reason is None:
        return await _unexpected(request, exc)
    log.error("database unavailable: %s", getattr(exc, "orig", None) or exc)
    return _json(503, reason, **{"Retry-After": "5"})


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return _json(500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn known failures into JSON answers."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ValidationError, _invalid_value)
    app.add_exception_handler(InvalidImage, _invalid_image)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    app.add_exception_handler(ArtifactConflict, _conflict)
    app.add_exception_handler(DataError, _unstorable)
    app.add_exception_handler(TrackingUnavailable, _tracking_unavailable)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _unexpected)
