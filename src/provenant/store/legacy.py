"""Read the previous system's `artifacts` table (PostgreSQL or SQLite), raw, in id order."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError


class LegacySourceError(RuntimeError):
    """The legacy database cannot be read: unreachable, or not the previous system's."""


class LegacySource:
    """The legacy `artifacts` table; values come back as the driver gives them (no coercion)."""

    def __init__(self, url: str) -> None:
        self.label = _safe_label(url)
        self.engine = _connect(url, self.label)
        self._check_table()

    def _check_table(self) -> None:
        try:
            inspector = inspect(self.engine)
            if not inspector.has_table("artifacts"):
                raise LegacySourceError(f"{self.label} has no `artifacts` table")
            columns = {c["name"] for c in inspector.get_columns("artifacts")}
        except SQLAlchemyError as exc:
            raise LegacySourceError(f"cannot read {self.label}: {_first_line(exc)}") from None
        missing = {"id", "type"} - columns
        if missing:
            raise LegacySourceError(
                f"{self.label}: `artifacts` lacks column(s) {', '.join(sorted(missing))}")

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT COUNT(*) FROM artifacts")).scalar_one()

    def pages(self, page_size: int = 500) -> Iterator[tuple[int | None, int]]:
        """(after, last) id bounds of consecutive pages of `page_size` rows, by ascending id
        (keyset on the primary key, no OFFSET over rows already read)."""
        after = None
        while True:
            where, params = ((" WHERE id > :after", {"after": after}) if after is not None
                             else ("", {}))
            with self.engine.connect() as conn:
                last = conn.execute(text(f"SELECT id FROM artifacts{where} ORDER BY id "
                                         "LIMIT 1 OFFSET :skip"),
                                    {**params, "skip": page_size - 1}).scalar()
                if last is None:  # the last, shorter page
                    last = conn.execute(text(f"SELECT MAX(id) FROM artifacts{where}"),
                                        params).scalar()
            if last is None:
                return
            yield after, last
            after = last

    def rows(self, after: int | None, last: int) -> list[dict[str, Any]]:
        """The rows of one page (`pages`), as plain dicts, by ascending id."""
        where = "id > :after AND id <= :last" if after is not None else "id <= :last"
        with self.engine.connect() as conn:
            result = conn.execute(text(f"SELECT * FROM artifacts WHERE {where} ORDER BY id"),
                                  {"after": after, "last": last})
            columns = list(result.keys())
            return [dict(zip(columns, row)) for row in result.fetchall()]  # not row by row

    def close(self) -> None:
        self.engine.dispose()


def _connect(url: str, label: str) -> Engine:
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise LegacySourceError(f"{label}: only PostgreSQL and SQLite sources are supported")
        if backend == "sqlite":
            if not parsed.database or not Path(parsed.database).is_file():
                raise LegacySourceError(f"{label}: no such SQLite file")
            # Read only: the import must never change the previous system's data.
            engine = create_engine(f"sqlite:///file:{parsed.database}?mode=ro&uri=true")
        else:
            # The old system's own URL says psycopg2 (or no driver); psycopg 3 reads the same.
            engine = create_engine(parsed.set(drivername="postgresql+psycopg"),
                                   connect_args={"connect_timeout": 10})
            event.listen(engine, "connect", _decode_json_from_text)
        with engine.connect():
            pass
        return engine
    except LegacySourceError:
        raise
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise LegacySourceError(f"not a database URL {label!r}: {_first_line(exc)}") from None
    except SQLAlchemyError as exc:
        raise LegacySourceError(f"cannot connect to {label}: {_first_line(exc)}") from None


_JSON = json.JSONDecoder()


def _decode_json_from_text(dbapi_conn, _record) -> None:
    """json/jsonb columns decoded from text: psycopg hands json.loads bytes, which first
    guesses their encoding (a third of the cost; PostgreSQL sends UTF-8)."""
    from psycopg.types.json import set_json_loads
    set_json_loads(lambda data: _JSON.decode(data.decode()), dbapi_conn)


def _safe_label(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the given URL"


def _first_line(exc: Exception) -> str:
    text_ = str(getattr(exc, "orig", None) or exc)
    return text_.splitlines()[0] if text_ else exc.__class__.__name__
