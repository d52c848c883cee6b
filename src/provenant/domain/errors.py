"""Errors a use case raises for the caller to answer: each entrypoint maps them once
(HTTP 404/409/422, a CLI line and exit 1)."""
from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError


class NotFound(LookupError):
    """What was asked for does not exist (HTTP 404)."""


class Conflict(RuntimeError):
    """The request contradicts what is stored; nothing was written (HTTP 409)."""


class Sealed(Conflict):
    """The artifact's content hash is on record in its run's manifest: its content is final."""

    def __init__(self, artifact_id: int, run_id: str, detail: str = "") -> None:
        super().__init__(f"artifact {artifact_id} is sealed by run {run_id}'s manifest{detail}: "
                         f"its content cannot change; nothing was written")


class Refused(ValueError):
    """Well-formed but not acceptable input, with the reason (HTTP 422)."""


def describe_errors(errors: Iterable[dict], whole: str = "value") -> str:
    """One readable clause per validation error: `field.path: message`."""
    return "; ".join(f"{_where(tuple(e.get('loc', ())), whole)}: "
                     f"{str(e.get('msg', 'invalid')).removeprefix('Value error, ')}"
                     for e in errors)


def describe_error(exc: BaseException, whole: str = "value") -> str:
    """One line for people: a ValidationError clause by clause, else the message."""
    if isinstance(exc, ValidationError):
        return describe_errors(exc.errors(), whole)
    return str(exc) or type(exc).__name__


def _where(loc: tuple, whole: str) -> str:
    # "body"/"query"/"path" say where; the field path is what a client needs to fix.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(loc[0]) if loc else whole)
