"""Dependencies shared by the routes: services, the hydrator, and the write token.

All are `async def` because none blocks: FastAPI runs a plain `def` dependency in its
thread pool, and each such hop cost more than the whole artifact read.
"""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from provenant.bootstrap import Services
from provenant.lineage.hydration import Hydrator

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def services_of(request: Request) -> Services:
    """The services the app was created with."""
    return request.app.state.services


async def hydrator_of(request: Request) -> Hydrator:
    """The app's one Hydrator (it remembers recent misses across requests)."""
    return request.app.state.hydrator


ServicesDep = Annotated[Services, Depends(services_of)]
HydratorDep = Annotated[Hydrator, Depends(hydrator_of)]


async def require_token_for_writes(request: Request) -> None:
    """When PROVENANT_API_TOKEN is set, every write needs `Authorization: Bearer <token>`."""
    if request.method in _SAFE_METHODS:
        return
    expected = request.app.state.services.settings.api_token
    if expected is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Constant-time comparison of bytes: timing must not reveal how much of a guess matched.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             expected.encode()):
        raise HTTPException(401, "missing or wrong API token (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
