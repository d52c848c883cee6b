"""Engines and schema migrations for the artifact database."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError

MIGRATIONS = Path(__file__).with_name("migrations")
# How long a SQLite writer waits for another writer's lock; `?timeout=SECONDS` in the URL
# overrides it (a server that should answer 503 quickly rather than queue writes).
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0


class SchemaNotReady(RuntimeError):
    """The database is not at the current schema and may not migrate itself."""


def create_db_engine(url: str) -> Engine:
    """An engine tuned for its backend (SQLite: WAL, busy timeout; servers: a ping per checkout)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        busy_seconds = sqlite_busy_timeout(parsed)
        engine = create_engine(url, connect_args={"timeout": busy_seconds,
                                                  "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own BEGIN handling is off (isolation_level=None); we issue it, so
        # write transactions can take the lock up front (BEGIN IMMEDIATE) instead of
        # failing mid-way when a deferred read lock cannot be upgraded.
        busy_ms = round(1000 * busy_seconds)
        event.listen(engine, "begin", lambda conn: _sqlite_begin(conn, busy_ms))
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    event.listen(engine, "begin", _server_begin)
    event.listen(engine, "connect", _mark_fresh)
    event.listen(engine, "checkout", _pre_ping(engine.dialect))
    return engine


# Set while a caller checks out connections that need no ping (see `unpinged_checkout`).
_SKIP_PING: ContextVar[bool] = ContextVar("skip_ping", default=False)


@contextmanager
def unpinged_checkout() -> Iterator[None]:
    """Check out pooled connections without the liveness ping (a round trip).

    Only for a caller whose statement is its own ping: one read-only statement, run again
    when it fails on a lost connection (that failure replaces the pool's connections).
    """
    token = _SKIP_PING.set(True)
    try:
        yield
    finally:
        _SKIP_PING.reset(token)


def _mark_fresh(_dbapi_conn, record) -> None:
    record.info["fresh"] = True  # just connected: alive, no ping needed


def _pre_ping(dialect: Dialect):
    """SQLAlchemy's pool pre-ping as a checkout event, so a caller can skip it: a dead
    connection (a server restart, pg_terminate_backend) is replaced, with every connection
    older than it, before anyone uses it."""
    def ping(dbapi_conn, record, _proxy) -> None:
        if record.info.pop("fresh", False) or _SKIP_PING.get():
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            raise InvalidatePoolError(f"pre-ping failed: {exc}") from exc
    return ping


def sqlite_busy_timeout(url: URL) -> float:
    """Seconds a SQLite connection waits for a lock (the driver's `timeout` sets busy_timeout)."""
    value = url.query.get("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds < 86_400:
        raise ValueError(f"the SQLite URL's timeout must be seconds (0 to 86400), not {value!r}")
    return seconds


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _lock_wait_ms(options: dict, default_ms: int | None) -> int | None:
    """The `lock_timeout` execution option in ms: a caller with a deadline waits less."""
    seconds = options.get("lock_timeout")
    return default_ms if seconds is None else max(1, round(1000 * seconds))


def _sqlite_begin(conn, default_busy_ms: int) -> None:
    options = conn.get_execution_options()
    wait_ms = _lock_wait_ms(options, default_busy_ms)
    info = conn.connection.info  # per pooled connection: set busy_timeout only on change
    if info.get("busy_timeout_ms") != wait_ms:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
        info["busy_timeout_ms"] = wait_ms
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("immediate") else "BEGIN")


def _server_begin(conn) -> None:
    wait_ms = _lock_wait_ms(conn.get_execution_options(), None)
    if wait_ms is not None and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")  # this transaction only


def upgrade(engine: Engine) -> str:
    """Apply every pending migration; return the head revision."""
    # Alembic (11 MB with its templates) only when migrating: every process checks the schema.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    command.upgrade(config, "head")
    return head_revision()


@cache
def head_revision() -> str:
    """The newest migration's revision: each file is named after its revision, and each
    revision follows the one before (tests check that Alembic finds the same head)."""
    return max(path.name.split("_")[0]
               for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in Alembic's `alembic_version` table; None on an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.scalar(text("SELECT version_num FROM alembic_version"))


def ensure_schema(engine: Engine, auto_migrate: bool) -> None:
    """Make sure the schema is current: migrate, or explain how to."""
    if current_revision(engine) == head_revision():
        return
    if auto_migrate:
        upgrade(engine)
        return
    raise SchemaNotReady(
        f"database {engine.url.render_as_string(hide_password=True)} is not at schema "
        f"{head_revision()}; run `provenant db upgrade` (or set PROVENANT_AUTO_MIGRATE=1)")
