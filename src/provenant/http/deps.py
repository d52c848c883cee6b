"""Dependencies shared by the routes: services and the hydrator (the write token: auth.py).

All are `async def` because none blocks: FastAPI runs a plain `def` dependency in its
thread pool, and each such hop cost more than the whole artifact read.
"""
from __future__ import annotations

from typing import Annotated

from anyio import CapacityLimiter
from fastapi import Depends, Path, Request

from provenant.bootstrap import Services
from provenant.lineage.hydration import Hydrator
from provenant.service.storing import ArtifactWriter


async def services_of(request: Request) -> Services:
    """The services the app was created with."""
    return request.app.state.services


async def hydrator_of(request: Request) -> Hydrator:
    """The app's one Hydrator (it remembers recent misses across requests)."""
    return request.app.state.parts.hydrator


async def writer_of(request: Request) -> ArtifactWriter:
    """The app's store path."""
    return request.app.state.parts.writer


# Short database reads share a few threads: with one thread per request, 32 of them took
# turns at the GIL (5 ms switch interval) and the slowest reads waited 5x the median.
READ_THREADS = 4


async def read_threads_of(request: Request) -> CapacityLimiter:
    """The app's limiter for short database reads, made in the loop that uses it."""
    limiter = getattr(request.app.state, "read_threads", None)
    if limiter is None:
        limiter = request.app.state.read_threads = CapacityLimiter(READ_THREADS)
    return limiter


ServicesDep = Annotated[Services, Depends(services_of)]
HydratorDep = Annotated[Hydrator, Depends(hydrator_of)]
WriterDep = Annotated[ArtifactWriter, Depends(writer_of)]
ReadThreadsDep = Annotated[CapacityLimiter, Depends(read_threads_of)]

# Path ids are bounded like the database's BIGINT: larger ones are a 422, not a 500.
ArtifactId = Annotated[int, Path(ge=1, le=2**63 - 1, description="artifact id")]
