"""The write token: checked before anything else looks at a write request.

As ASGI middleware (not a route dependency) it answers 401 before the body is read, its
size checked or its JSON parsed, so a client without the token learns nothing else, and
no route, present or future, can be left out.
"""
from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY = json.dumps({"detail": "missing or wrong API token (Authorization: Bearer <token>)"})


def bearer_token_matches(authorization: bytes, expected: str) -> bool:
    """True when the header is `Bearer <expected>` (compared in constant time)."""
    scheme, _, given = authorization.partition(b" ")
    # Constant-time comparison of bytes: timing must not reveal how much of a guess matched.
    return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(),
                                                               expected.encode())


class WriteTokenGuard:
    """401 for every request other than GET/HEAD/OPTIONS without the token (when one is set)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.token is None or scope["type"] != "http" or scope["method"] in SAFE_METHODS
                or bearer_token_matches(dict(scope["headers"]).get(b"authorization", b""),
                                        self.token)):
            await self.app(scope, receive, send)
            return
        body = _BODY.encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})


def declare_write_token(app) -> None:
    """Say in the OpenAPI document that writes need the bearer token (when one is set).

    Clients and generated SDKs then send it, and schema-driven tests check that a write
    without it is refused.
    """
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})[
                "writeToken"] = {"type": "http", "scheme": "bearer",
                                 "description": "the value of PROVENANT_API_TOKEN"}
            for operations in schema["paths"].values():
                for method, operation in operations.items():
                    if method.upper() not in SAFE_METHODS:
                        operation["security"] = [{"writeToken": []}]
        return app.openapi_schema

    app.openapi = openapi
