"""Database outages: say what happened in words a user can act on, retry what is safe."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("provenant.store")
T = TypeVar("T")


def describe_database_error(exc: BaseException) -> str | None:
    """What went wrong with the database, in words a user can act on; None if not a DB outage.

    An outage is a lock held too long, a connection refused or lost (a restart), or a
    pool with no free connection: all pass, so "try again" is the right advice.
    """
    if isinstance(exc, PoolTimeout):
        return "every connection to the artifact database is in use; try again"
    if not isinstance(exc, DBAPIError):
        return None
    if _is_locked(exc):
        return ("the artifact database is locked by another writer (the wait for its lock "
                "timed out); try again once it is done")
    if exc.connection_invalidated:
        return "the connection to the artifact database was lost (a restart?); try again"
    if isinstance(exc, OperationalError):
        return "the artifact database is unavailable (unreachable or refusing); try again"
    return None


def _is_locked(exc: DBAPIError) -> bool:
    reason = str(exc.orig).lower()
    # SQLite's busy timeout, or PostgreSQL's lock_timeout (SQLSTATE 55P03).
    return ("database is locked" in reason or "database is busy" in reason
            or getattr(exc.orig, "sqlstate", None) == "55P03")


def is_transient(exc: BaseException) -> bool:
    """A connection lost or refused (a server restart or failover), not a lock we waited out."""
    return (isinstance(exc, DBAPIError) and not _is_locked(exc)
            and (exc.connection_invalidated or isinstance(exc, OperationalError)))


def retry_transient(work: Callable[[], T], pauses: tuple[float, ...] = (0.5, 1, 2, 4)) -> T:
    """Run `work`; while it fails transiently, pause and run it again (7.5 s in all).

    Only for idempotent work: a transaction whose connection was lost may have committed.
    """
    for pause in pauses:
        try:
            return work()
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            log.warning("artifact database: %s; retrying in %s s",
                        str(exc.orig).splitlines()[0] if exc.orig else exc, pause)
            time.sleep(pause)
    return work()
