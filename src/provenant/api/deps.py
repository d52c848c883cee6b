"""Dependencies shared by the routes: services and the hydrator (the write token: auth.py).

All are `async def` because none blocks: FastAPI runs a plain `def` dependency in its
thread pool, and each such hop cost more than the whole artifact read.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from provenant.bootstrap import Services
from provenant.lineage.hydration import Hydrator


async def services_of(request: Request) -> Services:
    """The services the app was created with."""
    return request.app.state.services


async def hydrator_of(request: Request) -> Hydrator:
    """The app's one Hydrator (it remembers recent misses across requests)."""
    return request.app.state.hydrator


ServicesDep = Annotated[Services, Depends(services_of)]
HydratorDep = Annotated[Hydrator, Depends(hydrator_of)]
