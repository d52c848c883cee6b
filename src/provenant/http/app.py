"""The FastAPI app factory: API routes, web UI, static files, metrics, scheduled repair."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from provenant import __version__
from provenant.http.auth import WriteTokenGuard, declare_write_token
from provenant.http.errors import install_error_handlers
from provenant.http.limits import BodySizeLimit
from provenant.http.metrics import app_registry
from provenant.http.metrics import router as metrics_router
from provenant.http.api import (
    artifacts, executions, health, images, lineage, provenance, repair)
from provenant.http.web.routes import router as web_router
from provenant import runtime
from provenant.bootstrap import Services, get_services
from provenant.lineage.hydration import Hydrator
from provenant.lineage.scheduler import PeriodicRepair
from provenant.service.storing import ArtifactWriter

log = logging.getLogger("provenant.api")

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"


def _start_scheduled_repair(services: Services) -> PeriodicRepair | None:
    """The periodic repair job, or None when switched off."""
    interval = services.settings.repair_interval_seconds
    if interval <= 0:
        return None
    log.info("scheduled lineage repair every %s s", interval)
    return PeriodicRepair(lambda: runtime.repair(services), interval).start()


class AppParts:
    """Use cases the routes share, built on first use (the database may be down at start)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @cached_property
    def hydrator(self) -> Hydrator:
        return runtime.hydrator(self.services)  # one per app: it remembers recent misses

    @cached_property
    def writer(self) -> ArtifactWriter:
        return runtime.writer(self.services)


def create_app(services: Services | None = None) -> FastAPI:
    """Build the app on the given services (default: the process-wide ones)."""
    services = services or get_services()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scheduled = _start_scheduled_repair(services)
        try:
            yield
        finally:
            if scheduled is not None:
                scheduled.stop()

    app = FastAPI(title="Provenant", version=__version__, lifespan=lifespan,
                  description="Trading-signal artifacts that name the MLflow run that made them.")
    app.state.services = services
    app.state.parts = AppParts(services)
    app.state.metrics = app_registry(services)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=services.settings.max_body_bytes)
    app.add_middleware(WriteTokenGuard, token=services.settings.api_token)  # outermost: first
    if services.settings.api_token is not None:
        declare_write_token(app)

    for module in (health, artifacts, images, lineage, executions, repair, provenance):
        app.include_router(module.router)
    app.include_router(metrics_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
