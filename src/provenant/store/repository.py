"""The artifact repository: rows in, typed artifacts out, lineage written once."""
from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Column, DateTime, Dialect, Engine, Table, and_, bindparam, case, func, insert, literal, null,
    select, union_all, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from provenant.domain.artifacts import Artifact, NewArtifact
from provenant.domain.lineage import Lineage
from provenant.domain.errors import Conflict, NotFound, Refused, Sealed
from provenant.domain.provenance import (
    ChainMember, ContentRevision, Edge, canonical_payload, content_hash, hash_with_payload_json)
from provenant.domain.reports import RepairRecord
from provenant.store.database import unpinged_checkout
from provenant.store.tables import (
    IDEMPOTENCY_KEY, artifact_inputs, artifact_revisions, artifacts, lineage_repairs)

FILTERS = ("type", "symbol", "workflow_id", "execution_id", "run_id")
_EDGE_COLUMNS = ("artifact_id", "input_id", "inferred")
# The INSERT that can skip rows whose key is taken, per supported backend.
_UPSERT_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_ID_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit
# How long a call took is a measurement of one attempt, not content: a retry differs there.
_MEASUREMENTS = frozenset({"latency_ms"})

log = logging.getLogger("provenant.store")


class InvalidCursor(ValueError):
    """A pagination cursor that this API did not hand out."""


class ArtifactConflict(Conflict):
    """An artifact with this idempotency key is stored already, with different content."""

    def __init__(self, key: dict[str, str], stored: Artifact, differs: list[str]) -> None:
        self.key, self.stored, self.differs = key, stored, differs
        super().__init__(
            f"artifact {stored.id} already holds {key['name']!r} of step {key['step_name']!r} "
            f"in execution {key['execution_id']!r} of {key['workflow_id']!r} with a different "
            f"{', '.join(differs)}; nothing was stored")


def now() -> datetime:
    return datetime.now(UTC)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        last_id = int(value)
    except Exception:
        raise InvalidCursor("invalid cursor") from None
    if prefix != "id" or last_id < 1:
        raise InvalidCursor("invalid cursor")
    return last_id


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _utc(value: datetime) -> datetime:
    """A timestamp as stored: in UTC (SQLite keeps a datetime's wall time and drops its
    offset, so 12:00+08:00 would read back as 12:00 UTC). Naive ones are taken as UTC."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _to_artifact(row) -> Artifact:
    m = row._mapping
    return Artifact(
        id=m["id"], type=m["type"], name=m["name"], symbol=m["symbol"],
        workflow_id=m["workflow_id"], execution_id=m["execution_id"], step_name=m["step_name"],
        dag_id=m["dag_id"], task_id=m["task_id"], run_id=m["run_id"],
        experiment_id=m["experiment_id"], payload=m["payload"] or {},
        created_at=_aware(m["created_at"]), updated_at=_aware(m["updated_at"]),
        lineage_repaired_at=_aware(m["lineage_repaired_at"]),
        has_image=m["image_key"] is not None, image_content_type=m["image_content_type"],
        image_sha256=_image_sha256(m["image_key"]), content_sha256=m["content_sha256"],
        imported=bool(m["imported"]), sealed_by_run=m["sealed_by_run"],
    )


def _image_sha256(image_key: str | None) -> str | None:
    """Image keys are content-addressed: `<sha256>.<ext>`."""
    return (image_key or "").split(".")[0] or None


def _differences(stored: Artifact, new: NewArtifact, image_key: str | None) -> list[str]:
    """Which parts of the content (type, symbol, payload, image) differ from the stored row."""
    def content(payload: dict) -> dict:
        # Through JSON, as the database keeps it (tuples become lists, keys strings).
        return {k: v for k, v in json.loads(json.dumps(payload)).items() if k not in _MEASUREMENTS}

    differs = [field for field in ("type", "symbol")
               if str(getattr(stored, field) or "") != str(getattr(new, field) or "")]
    if content(stored.payload) != content(new.payload):
        differs.append("payload")
    if stored.image_sha256 != _image_sha256(image_key):
        differs.append("image")
    return differs


# Stored lineage states ("unavailable" is only ever a read-time state, never stored).
_LINEAGE_STATES = {
    "persisted": and_(artifacts.c.run_id.is_not(None), artifacts.c.lineage_repaired_at.is_(None)),
    "repaired": artifacts.c.lineage_repaired_at.is_not(None),
    "pending": artifacts.c.run_id.is_(None),
}


def _filtered(query, lineage: str | None, filters: dict[str, str | None]):
    """`query` narrowed to one stored lineage state and exact-match filters."""
    if lineage is not None:
        if lineage not in _LINEAGE_STATES:
            raise ValueError(f"unknown lineage state {lineage!r}")
        query = query.where(_LINEAGE_STATES[lineage])
    for name, value in filters.items():
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}")
        if value is not None:
            query = query.where(artifacts.c[name] == value)
    return query


# The columns a new artifact fills from its own fields.
_NEW_FIELDS = ("type", "name", "symbol", "workflow_id", "execution_id", "step_name", "dag_id",
               "task_id", "run_id", "experiment_id", "payload")


def _row(new: NewArtifact, image_key: str | None, content_type: str | None,
         stamp: datetime, payload_as_text: bool = False) -> dict:
    """The table row of a new artifact, with its content hash; `payload_as_text` gives the
    payload as the canonical JSON text it was hashed from (for the bulk insert)."""
    values = {field: getattr(new, field) for field in _NEW_FIELDS}
    # A NewArtifact's payload is validated, so JSON-native: no round trip before hashing.
    payload_json = canonical_payload(new.payload, json_native=True)
    values.update(created_at=_utc(new.created_at or stamp),
                  updated_at=_utc(new.updated_at or stamp),
                  image_key=image_key, image_content_type=content_type,
                  content_sha256=hash_with_payload_json(new.type, new.name, new.symbol,
                                                        payload_json, _image_sha256(image_key)))
    if payload_as_text:
        values["payload"] = payload_json
    if new.id is not None:  # only the legacy import keeps ids
        values.update(id=new.id, imported=True)
    return values


def _missing_lineage(workflow_id: str | None, max_id: int | None = None):
    """What the repair job works on: no run, an execution id (this workflow's, up to max_id)."""
    c = artifacts.c
    return and_(c.run_id.is_(None), c.execution_id.is_not(None),
                c.workflow_id == workflow_id if workflow_id is not None else literal(True),
                c.id <= max_id if max_id is not None else literal(True))


def _bind_processor(column: Column, dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a column's values are handed to the driver: the type's own processor, but for
    SQLite's DATETIME, which formats each value through a dict (2.5 us, the costliest column
    of a bulk insert), the same text from isoformat."""
    if dialect.name == "sqlite" and isinstance(column.type, DateTime):
        return _sqlite_datetime
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _sqlite_datetime(value: datetime | None) -> str | None:
    # "YYYY-MM-DD HH:MM:SS.ffffff" without the offset, as SQLAlchemy stores it (values are UTC).
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def _driver_insert(dialect: Dialect, table: Table, rows: list[dict],
                   as_is: tuple[str, ...] = (), skip_existing: bool = False) -> tuple[str, list]:
    """An INSERT of rows as driver-level SQL and executemany parameters.

    SQLAlchemy's per-row parameter processing costs more than the insert itself at import
    scale, so each column's own bind processor is applied here, once per value (except to
    the `as_is` columns, already in their stored form). Done before a writer takes its turn
    (see `add_many`). `skip_existing` leaves rows whose key is taken alone (ON CONFLICT DO
    NOTHING, on SQLite and PostgreSQL alike).
    """
    if not rows:
        return "", []
    columns = list(rows[0])
    statement = insert(table)
    if skip_existing:
        statement = _UPSERT_INSERT[dialect.name](table).on_conflict_do_nothing()
    compiled = statement.compile(dialect=dialect, column_keys=columns)
    process = {c: p for c in columns
               if c not in as_is and (p := _bind_processor(table.c[c], dialect)) is not None}
    if compiled.positiontup is None:  # named parameters (psycopg)
        return str(compiled), [{**row, **{c: p(row[c]) for c, p in process.items()}}
                               for row in rows]
    # qmark (SQLite): tuples, built a column at a time (a loop per column, not per value).
    columns_in_order = []
    for c in compiled.positiontup:
        values = list(map(itemgetter(c), rows))
        columns_in_order.append(list(map(process[c], values)) if c in process else values)
    return str(compiled), list(zip(*columns_in_order))


def _execute_insert(conn, statement: tuple[str, list]) -> int:
    """Run a `_driver_insert`; returns how many rows were inserted."""
    sql, params = statement
    return conn.exec_driver_sql(sql, params).rowcount if params else 0


class ArtifactRepository:
    """All artifact and audit-log SQL lives here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _write(self, lock_timeout: float | None = None):
        """A write transaction (on SQLite it takes the write lock up front).

        `lock_timeout` (seconds) bounds the wait for another writer's lock, instead of
        SQLite's busy timeout or PostgreSQL's unbounded wait.
        """
        options = {"immediate": True}
        if lock_timeout is not None:
            options["lock_timeout"] = lock_timeout
        return self.engine.connect().execution_options(**options)

    def _read(self):
        """A connection for one read statement: on PostgreSQL in autocommit, so the read
        costs one round trip, not BEGIN, the statement and ROLLBACK (a single statement
        sees one snapshot either way)."""
        conn = self.engine.connect()
        if conn.dialect.name == "postgresql":
            return conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn

    def add(self, new: NewArtifact, image_key: str | None = None,
            image_content_type: str | None = None, inputs: Sequence[int] = ()) -> Artifact:
        """Insert one artifact (with the ids it was derived from) and return it as stored.

        Idempotent under (workflow_id, execution_id, step_name, name): the same content
        and inputs stored again return the first row; different ones raise ArtifactConflict.
        """
        try:
            return self.add_many([new], [(image_key, image_content_type)], [inputs])[0]
        except IntegrityError:
            stored = self.by_idempotency_key(new) if new.id is None else None
            if stored is None:
                raise  # not the idempotency key (e.g. an explicit id already taken)
        if stored.id in inputs:
            raise Refused(f"input artifact {stored.id} is the artifact being stored again: it "
                          "cannot be an input of itself; nothing was stored")
        differs = _differences(stored, new, image_key)
        if set(self.inputs_of(stored.id)) != set(inputs):
            differs.append("inputs")
        if differs:
            key = {column: getattr(new, column) for column in IDEMPOTENCY_KEY}
            log.warning(json.dumps({"event": "artifact_conflict", **key,
                                    "stored_artifact_id": stored.id,
                                    "stored_run_id": stored.run_id, "run_id": new.run_id,
                                    "differs": differs}))
            raise ArtifactConflict(key, stored, differs)
        return stored

    def by_idempotency_key(self, new: NewArtifact) -> Artifact | None:
        """The stored artifact with the same (workflow_id, execution_id, step_name, name)."""
        values = [getattr(new, column) for column in IDEMPOTENCY_KEY]
        if None in values:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(artifacts).where(artifacts.c.imported.is_(False), *(
                artifacts.c[column] == value
                for column, value in zip(IDEMPOTENCY_KEY, values)))).first()
        return _to_artifact(row) if row else None

    def add_many(self, items: Sequence[NewArtifact],
                 images: Sequence[tuple[str | None, str | None]] | None = None,
                 inputs: Sequence[Sequence[int]] | None = None,
                 fetch: bool = True, turn: Any = None) -> list[Artifact]:
        """Insert artifacts in one transaction, keeping explicit ids where given.

        Each row gets its content hash; `inputs` (per item) become derivation edges, each
        checked first (it exists, in the same execution): a bad one raises Refused and
        nothing is written. Returns the stored artifacts (none with `fetch=False`).
        `turn` (a lock writer processes share) is held for the transaction only, not while
        rows are hashed.
        """
        stamp = now()
        images = images or [(None, None)] * len(items)
        inputs = inputs or [()] * len(items)
        bulk = all(new.id is not None for new in items) and not any(inputs)
        rows = [_row(new, key, content_type, stamp, payload_as_text=bulk)
                for new, (key, content_type) in zip(items, images, strict=True)]
        # The legacy import: ids known, no edges, so one executemany for the page.
        statement = _driver_insert(self.engine.dialect, artifacts, rows,
                                   as_is=("payload",)) if bulk else None
        with turn or nullcontext(), self._write() as conn, conn.begin():
            if statement:
                _execute_insert(conn, statement)
                ids = [new.id for new in items]
            else:
                ids = [self._insert_one(conn, new, row, input_ids)
                       for new, row, input_ids in zip(items, rows, inputs, strict=True)]
            if conn.dialect.name == "postgresql" and any(n.id for n in items):
                # Explicit ids do not advance the sequence; keep it ahead of them.
                conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('artifacts', 'id'), "
                    "GREATEST((SELECT MAX(id) FROM artifacts), 1))")
        return self.get_many(ids) if fetch else []

    @staticmethod
    def _insert_one(conn, new: NewArtifact, row: dict, input_ids: Sequence[int]) -> int:
        input_ids = list(dict.fromkeys(input_ids))
        _check_inputs(conn, new, input_ids)
        artifact_id = conn.execute(insert(artifacts).values(**row)).inserted_primary_key[0]
        if input_ids:
            conn.execute(insert(artifact_inputs), [
                {"artifact_id": artifact_id, "input_id": i, "inferred": False}
                for i in input_ids])
        return artifact_id

    def get(self, artifact_id: int) -> Artifact | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(artifacts).where(artifacts.c.id == artifact_id)).first()
        return _to_artifact(row) if row else None

    def get_many(self, ids: Iterable[int]) -> list[Artifact]:
        ids = list(ids)
        if not ids:
            return []
        wanted, low, high = set(ids), min(ids), max(ids)
        # Dense ids (a page of the legacy import) read as one range: a thousand bound
        # parameters cost more than the rows in between.
        where = (artifacts.c.id.between(low, high) if high - low < 2 * len(wanted)
                 else artifacts.c.id.in_(ids))
        with self.engine.connect() as conn:
            rows = conn.execute(select(artifacts).where(where)).all()
        by_id = {row.id: _to_artifact(row) for row in rows if row.id in wanted}
        return [by_id[i] for i in ids if i in by_id]

    def existing_ids(self, ids: Iterable[int]) -> set[int]:
        ids, found = list(ids), set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _ID_CHUNK):
                found.update(conn.scalars(select(artifacts.c.id).where(
                    artifacts.c.id.in_(ids[start:start + _ID_CHUNK]))))
        return found

    def image_of(self, artifact_id: int) -> tuple[str, str] | None:
        """The blob key and content type of an artifact's image."""
        with self.engine.connect() as conn:
            row = conn.execute(select(artifacts.c.image_key, artifacts.c.image_content_type)
                               .where(artifacts.c.id == artifact_id)).first()
        return (row[0], row[1]) if row and row[0] else None

    def set_image(self, artifact_id: int, image_key: str, image_content_type: str) -> bool:
        """Attach an image to an artifact that has none; False if it already had one.

        The image is part of the content: a hashed row is hashed again with it, and the
        change is recorded as a revision (source `image`).
        """
        with self._write() as conn, conn.begin():
            row = conn.execute(select(artifacts).where(artifacts.c.id == artifact_id)).first()
            if row is None or row.image_key is not None:
                return False
            if row.sealed_by_run is not None:
                raise Sealed(artifact_id, row.sealed_by_run)
            stored = _to_artifact(row)
            result = conn.execute(
                update(artifacts)
                .where(and_(artifacts.c.id == artifact_id, artifacts.c.image_key.is_(None)))
                .values(image_key=image_key, image_content_type=image_content_type,
                        content_sha256=_rehash(stored, stored.payload, image_key),
                        updated_at=now()))
            if result.rowcount == 1:
                _record_revision(conn, stored, stored.payload, image_key, ["image"], "image")
        return result.rowcount == 1

    def inputs_of(self, artifact_id: int) -> list[int]:
        """The ids an artifact was derived from."""
        return [e.input_id for e in self.edges([artifact_id], "up")]

    def edges(self, ids: Iterable[int], direction: str) -> list[Edge]:
        """Edges into `ids` from their inputs (`up`) or from what was derived from them (`down`)."""
        ids = list(ids)
        near, far = _ends(artifact_inputs, direction)
        found: list[Edge] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _ID_CHUNK):
                rows = conn.execute(select(artifact_inputs)
                                    .where(near.in_(ids[start:start + _ID_CHUNK]))
                                    .order_by(near, far)).all()
                found.extend(Edge(artifact_id=r.artifact_id, input_id=r.input_id,
                                  inferred=r.inferred) for r in rows)
        return found

    def chain(self, artifact_id: int, direction: str, max_depth: int, max_edges: int
              ) -> tuple[list[Edge], dict[int, Artifact], bool]:
        """Every edge within `max_depth` links of an artifact, with the rows at both ends.

        One statement whatever the chain's depth: a recursive CTE walks the edges (by the
        primary key up, by the (input_id, artifact_id) index down) and each edge comes
        with the row it leads to; the artifact's own row is the first. Returns (edges,
        rows by id, whether `max_edges` cut the walk); an edge reached at several depths
        comes back once. Empty rows when the artifact does not exist.
        """
        rows = self._chain_rows(direction, {"root": artifact_id, "max_depth": max_depth,
                                            "max_edges": max_edges + 1})
        found = {row.id: _to_artifact(row) for row in rows if row.id is not None}
        if artifact_id not in found:
            return [], {}, False
        linked = [row for row in rows if row.edge_artifact_id is not None]
        edges = {(r.edge_artifact_id, r.edge_input_id): Edge(
            artifact_id=r.edge_artifact_id, input_id=r.edge_input_id, inferred=r.edge_inferred)
            for r in linked[:max_edges]}
        return list(edges.values()), found, len(linked) > max_edges

    def _chain_rows(self, direction: str, params: dict) -> list:
        """The rows of `_chain_query`, without the liveness ping per checkout (one round
        trip of two): the statement is only a read, so on a lost connection it runs once
        more."""
        def run() -> list:
            with unpinged_checkout(), self._read() as conn:
                return conn.execute(_chain_query(direction), params).all()
        try:
            return run()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return run()  # the lost connection invalidated the pool's: this one is new

    def dangling_edges(self, limit: int = 1000) -> list[Edge]:
        """Edges whose input no longer exists (a broken link in a decision chain)."""
        query = (select(artifact_inputs)
                 .where(~select(artifacts.c.id).where(artifacts.c.id == artifact_inputs.c.input_id)
                        .exists())
                 .order_by(artifact_inputs.c.artifact_id).limit(limit))
        with self.engine.connect() as conn:
            return [Edge(artifact_id=r.artifact_id, input_id=r.input_id, inferred=r.inferred)
                    for r in conn.execute(query)]

    def add_inputs(self, artifact_id: int, input_ids: Sequence[int],
                   inferred: bool = False) -> list[int]:
        """Record that a stored artifact was derived from `input_ids`; returns the new ones.

        Refused (nothing written) for an input that does not exist, is in another
        execution, is the artifact itself, or is already downstream of it (a cycle).
        """
        input_ids = list(dict.fromkeys(input_ids))
        with self._write() as conn, conn.begin():
            row = conn.execute(select(artifacts).where(artifacts.c.id == artifact_id)).first()
            if row is None:
                raise NotFound(f"artifact {artifact_id} not found")
            if artifact_id in input_ids:
                raise Refused(f"artifact {artifact_id} cannot be an input of itself; "
                              "nothing was stored")
            _check_inputs(conn, _to_artifact(row), input_ids)
            _refuse_cycle(conn, artifact_id, input_ids)
            known = set(conn.scalars(select(artifact_inputs.c.input_id)
                                     .where(artifact_inputs.c.artifact_id == artifact_id)))
            new = [i for i in input_ids if i not in known]
            if new:
                conn.execute(insert(artifact_inputs), [
                    {"artifact_id": artifact_id, "input_id": i, "inferred": inferred}
                    for i in new])
        return new

    def imported_chains(self, execution_ids: Iterable[str],
                        max_id: int | None = None) -> list[list[ChainMember]]:
        """The imported artifacts of these executions (up to `max_id`), one list per
        (workflow, execution)."""
        c = artifacts.c
        execution_ids = sorted(set(execution_ids))
        chains: dict[tuple[str | None, str], list[ChainMember]] = {}
        # Only a chart's chart type is read: other payloads are not parsed.
        chart_type = case((c.type == "chart", c.payload["chart_type"].as_string()))
        query = select(c.id, c.workflow_id, c.execution_id, c.type, c.symbol, chart_type).where(
            c.imported.is_(True), c.id <= max_id if max_id is not None else literal(True),
            c.execution_id.in_(bindparam("executions", expanding=True)))
        with self.engine.connect() as conn:
            for start in range(0, len(execution_ids), _ID_CHUNK):
                rows = conn.execute(query, {
                    "executions": execution_ids[start:start + _ID_CHUNK]}).all()
                for id_, workflow, execution, kind, symbol, chart in rows:
                    chains.setdefault((workflow, execution), []).append(
                        ChainMember(id_, kind, symbol, chart))
        return list(chains.values())

    def has_upward_edges(self) -> bool:
        """Whether any edge points to a later artifact (only ever added by hand): then a new
        edge to an earlier one could close a cycle."""
        with self.engine.connect() as conn:
            return conn.scalar(select(artifact_inputs.c.artifact_id)
                               .where(artifact_inputs.c.input_id > artifact_inputs.c.artifact_id)
                               .limit(1)) is not None

    def add_inferred_edges(self, edges: Sequence[tuple[int, int]]) -> int:
        """Record guessed edges (artifact, earlier input of its execution) not there yet, in
        one transaction; returns how many were new.

        For edges from `imported_chains` + `infer_chain`: same execution and existing ids by
        construction, and each points to an earlier id, so with no upward edge in the table
        (`has_upward_edges`) none can close a cycle; otherwise use `add_inputs`.
        """
        rows = [{"artifact_id": artifact_id, "input_id": input_id, "inferred": True}
                for artifact_id, input_id in dict.fromkeys(edges)]
        statement = _driver_insert(self.engine.dialect, artifact_inputs, rows,
                                   skip_existing=True)
        with self._write() as conn, conn.begin():
            return _execute_insert(conn, statement)

    def list(self, limit: int = 50, cursor: str | None = None, lineage: str | None = None,
             **filters: str | None) -> tuple[list[Artifact], str | None]:
        """Newest first, keyset-paginated on id; filters are exact matches.

        `lineage` keeps only one stored lineage state: persisted, repaired or pending.
        """
        query = _filtered(select(artifacts).order_by(artifacts.c.id.desc()).limit(limit + 1),
                          lineage, filters)
        if cursor:
            query = query.where(artifacts.c.id < decode_cursor(cursor))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        items = [_to_artifact(r) for r in rows[:limit]]
        next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
        return items, next_cursor

    def by_execution(self, execution_id: str) -> list[Artifact]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(artifacts).where(artifacts.c.execution_id == execution_id)
                                .order_by(artifacts.c.id)).all()
        return [_to_artifact(r) for r in rows]

    def missing_lineage(self, after_id: int = 0, limit: int = 1000,
                        workflow_id: str | None = None) -> list[Artifact]:
        """Artifacts with no lineage but an execution id, in id order from after_id."""
        query = (select(artifacts).where(_missing_lineage(workflow_id), artifacts.c.id > after_id)
                 .order_by(artifacts.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [_to_artifact(r) for r in conn.execute(query).all()]

    def missing_lineage_keys(self, after_id: int = 0, limit: int = 1000,
                             workflow_id: str | None = None, max_id: int | None = None
                             ) -> list[tuple[int, str | None, str]]:
        """(id, workflow_id, execution_id) of the artifacts `missing_lineage` returns, without
        loading them: what the repair job walks."""
        c = artifacts.c
        query = (select(c.id, c.workflow_id, c.execution_id)
                 .where(_missing_lineage(workflow_id, max_id), c.id > after_id)
                 .order_by(c.id).limit(limit))
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def missing_lineage_backlog(self, workflow_id: str | None = None) -> tuple[int, int, int]:
        """(artifacts, distinct (workflow, execution) keys, highest id) of what
        `missing_lineage_keys` walks: the repair job's backlog as it starts."""
        c = artifacts.c
        missing = _missing_lineage(workflow_id)
        keys = select(c.workflow_id, c.execution_id).where(missing).distinct().subquery()
        with self.engine.connect() as conn:
            count, last = conn.execute(select(func.count(), func.max(c.id)).where(missing)).one()
            executions = conn.scalar(select(func.count()).select_from(keys))
        return count, executions, last or 0

    def missing_lineage_of(self, execution_ids: Iterable[str], workflow_id: str | None = None,
                           max_id: int | None = None) -> list[tuple[int, str | None, str]]:
        """(id, workflow_id, execution_id) of the artifacts of these executions still missing
        lineage (up to `max_id`), by id."""
        c = artifacts.c
        execution_ids, found = sorted(set(execution_ids)), []
        with self.engine.connect() as conn:
            for start in range(0, len(execution_ids), _ID_CHUNK):
                # The test on run_id is written so no index can serve it: SQLite otherwise
                # walks the run_id index over every artifact still missing lineage (all of
                # them, at first) instead of looking up these executions.
                query = (select(c.id, c.workflow_id, c.execution_id, c.run_id)
                         .where(func.coalesce(c.run_id, "") == "",
                                c.execution_id.in_(execution_ids[start:start + _ID_CHUNK])))
                if workflow_id is not None:
                    query = query.where(c.workflow_id == workflow_id)
                if max_id is not None:
                    query = query.where(c.id <= max_id)
                found += [(i, w, e) for i, w, e, run_id in conn.execute(query) if run_id is None]
        return sorted(found)

    def set_lineage(self, updates: Sequence[tuple[int, Lineage]], source: str,
                    lock_timeout: float | None = None) -> list[int]:
        """Fill in lineage where it is still missing, with one audit row each.

        One transaction: find which ids still lack lineage (locked on PostgreSQL, and
        SQLite's BEGIN IMMEDIATE already holds the write lock), then one executemany
        UPDATE and one audit INSERT. The UPDATE stays conditional (run_id IS NULL), so
        concurrent writers fill each artifact once. Returns the ids repaired, in input order.
        """
        stamp = now()
        lineage_of = dict(updates)
        ids = list(lineage_of)
        missing: set[int] = set()
        with self._write(lock_timeout) as conn, conn.begin():
            for start in range(0, len(ids), _ID_CHUNK):
                query = (select(artifacts.c.id)
                         .where(artifacts.c.id.in_(ids[start:start + _ID_CHUNK]),
                                artifacts.c.run_id.is_(None))
                         .order_by(artifacts.c.id))  # one lock order: no deadlocks between jobs
                if conn.dialect.name == "postgresql":
                    query = query.with_for_update()
                missing.update(conn.scalars(query))
            repaired = [i for i in ids if i in missing]
            if repaired:
                conn.execute(
                    update(artifacts)
                    .where(artifacts.c.id == bindparam("b_id"), artifacts.c.run_id.is_(None))
                    .values(run_id=bindparam("b_run_id"), experiment_id=bindparam("b_exp_id"),
                            lineage_repaired_at=stamp, updated_at=stamp),
                    [{"b_id": i, "b_run_id": lineage_of[i].run_id,
                      "b_exp_id": lineage_of[i].experiment_id} for i in repaired])
                conn.execute(insert(lineage_repairs), [
                    {"artifact_id": i, "run_id": lineage_of[i].run_id,
                     "experiment_id": lineage_of[i].experiment_id, "source": source,
                     "repaired_at": stamp} for i in repaired])
        return repaired

    def repairs(self, artifact_id: int | None = None, limit: int = 1000) -> list[RepairRecord]:
        """The audit log, newest first."""
        query = select(lineage_repairs).order_by(lineage_repairs.c.id.desc()).limit(limit)
        if artifact_id is not None:
            query = query.where(lineage_repairs.c.artifact_id == artifact_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [RepairRecord(artifact_id=r.artifact_id, run_id=r.run_id,
                             experiment_id=r.experiment_id, source=r.source,
                             repaired_at=_aware(r.repaired_at)) for r in rows]

    def count_matching(self, lineage: str | None = None, **filters: str | None) -> int:
        """How many artifacts `list` would walk through with these filters."""
        query = _filtered(select(func.count()).select_from(artifacts), lineage, filters)
        with self.engine.connect() as conn:
            return conn.scalar(query) or 0

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts by type, stored lineage state, symbol and workflow."""
        with self.engine.connect() as conn:
            grouped = {column: dict(conn.execute(
                select(artifacts.c[column], func.count()).group_by(artifacts.c[column])).all())
                for column in ("type", "symbol", "workflow_id")}
            states = {state: conn.scalar(select(func.count()).select_from(artifacts)
                                         .where(condition)) or 0
                      for state, condition in _LINEAGE_STATES.items()}
        return {"by_type": grouped["type"], "by_lineage": states,
                "by_symbol": grouped["symbol"], "by_workflow": grouped["workflow_id"]}

    def replace_payload(self, artifact_id: int, payload: dict, expected_updated_at: datetime,
                        changed: Sequence[str]) -> bool:
        """Set a payload unless the artifact changed since it was read (False then).

        A hashed row is hashed again, and the change (old hash, new hash, the `changed`
        payload keys) is recorded as a revision in the same transaction.
        """
        with self._write() as conn, conn.begin():
            query = select(artifacts).where(artifacts.c.id == artifact_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()  # the hash is computed from this row
            row = conn.execute(query).first()
            if row is None or _aware(row.updated_at) != expected_updated_at:
                return False
            if row.sealed_by_run is not None:  # sealed since it was read
                raise Sealed(artifact_id, row.sealed_by_run)
            stored = _to_artifact(row)
            conn.execute(update(artifacts).where(artifacts.c.id == artifact_id)
                         .values(payload=payload, updated_at=now(),
                                 content_sha256=_rehash(stored, payload, row.image_key)))
            _record_revision(conn, stored, payload, row.image_key, list(changed), "patch")
        return True

    def seal(self, ids: Sequence[int], run_id: str) -> None:
        """Mark artifacts as recorded by `run_id`'s manifest, before it is written: a payload
        write then either committed first (the manifest reads its hash) or is refused."""
        with self._write() as conn, conn.begin():
            for start in range(0, len(ids), _ID_CHUNK):
                conn.execute(update(artifacts)
                             .where(artifacts.c.id.in_(list(ids[start:start + _ID_CHUNK])),
                                    artifacts.c.sealed_by_run.is_(None))
                             .values(sealed_by_run=run_id))

    def revisions(self, ids: Iterable[int]) -> dict[int, list[ContentRevision]]:
        """The recorded content revisions of these artifacts, oldest first (absent: none)."""
        ids = list(ids)
        found: dict[int, list[ContentRevision]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _ID_CHUNK):
                rows = conn.execute(
                    select(artifact_revisions)
                    .where(artifact_revisions.c.artifact_id.in_(ids[start:start + _ID_CHUNK]))
                    .order_by(artifact_revisions.c.artifact_id, artifact_revisions.c.id)).all()
                for r in rows:
                    found.setdefault(r.artifact_id, []).append(ContentRevision(
                        artifact_id=r.artifact_id, old_sha256=r.old_sha256,
                        new_sha256=r.new_sha256, changed=r.changed, source=r.source,
                        revised_at=_aware(r.revised_at)))
        return found

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(artifacts)) or 0


def _rehash(stored: Artifact, payload: dict, image_key: str | None) -> str | None:
    """The content hash after a change; rows stored before hashing stay unhashed (hashing
    them now would vouch for content nobody checked when it was stored)."""
    if stored.content_sha256 is None:
        return None
    return content_hash(stored.type, stored.name, stored.symbol, payload,
                        _image_sha256(image_key))


def _record_revision(conn, stored: Artifact, payload: dict, image_key: str | None,
                     changed: list[str], source: str) -> None:
    conn.execute(insert(artifact_revisions).values(
        artifact_id=stored.id, old_sha256=stored.content_sha256,
        new_sha256=_rehash(stored, payload, image_key), changed=changed, source=source,
        revised_at=now()))


def _ends(table, direction: str):
    """(near, far) columns of an edge table: up walks to inputs, down to what was derived."""
    if direction == "up":
        return table.c.artifact_id, table.c.input_id
    return table.c.input_id, table.c.artifact_id


@cache
def _chain_query(direction: str):
    """The recursive walk of `chain`, built once per direction (bound: root, max_depth,
    max_edges)."""
    near, far = _ends(artifact_inputs, direction)
    start = (select(artifact_inputs.c.artifact_id, artifact_inputs.c.input_id,
                    artifact_inputs.c.inferred, literal(1).label("depth"))
             .where(near == bindparam("root")).cte("walk", recursive=True))
    step = artifact_inputs.alias("step")
    step_near, _ = _ends(step, direction)
    walk = start.union(
        select(step.c.artifact_id, step.c.input_id, step.c.inferred, start.c.depth + 1)
        .join(start, step_near == start.c[far.name])
        .where(start.c.depth < bindparam("max_depth")))
    reached = (select(walk.c.artifact_id, walk.c.input_id, walk.c.inferred)
               .limit(bindparam("max_edges")).subquery("reached"))
    return union_all(
        select(*(null().label(f"edge_{c}") for c in _EDGE_COLUMNS), artifacts)
        .where(artifacts.c.id == bindparam("root")),
        select(*(reached.c[c].label(f"edge_{c}") for c in _EDGE_COLUMNS), artifacts)
        .select_from(reached.outerjoin(artifacts, artifacts.c.id == reached.c[far.name])))


def _check_inputs(conn, new: NewArtifact | Artifact, input_ids: list[int]) -> None:
    """Every input exists and, when the artifact names an execution, belongs to it."""
    if not input_ids:
        return
    if new.id is not None and new.id in input_ids:
        raise Refused(f"artifact {new.id} cannot be an input of itself; nothing was stored")
    rows = {r.id: r for r in conn.execute(
        select(artifacts.c.id, artifacts.c.workflow_id, artifacts.c.execution_id)
        .where(artifacts.c.id.in_(input_ids)))}
    missing = [i for i in input_ids if i not in rows]
    if missing:
        raise Refused(f"input artifact(s) {', '.join(map(str, missing))} do not exist; "
                      "nothing was stored")
    if new.execution_id is None:
        return
    for i in input_ids:
        if (rows[i].execution_id, rows[i].workflow_id) != (new.execution_id, new.workflow_id):
            raise Refused(f"input artifact {i} belongs to execution {rows[i].execution_id!r} "
                          f"of {rows[i].workflow_id!r}, not to {new.execution_id!r} of "
                          f"{new.workflow_id!r}; nothing was stored")


_CYCLE_WALK_LIMIT = 100_000  # artifacts: far more than any decision chain


def _refuse_cycle(conn, artifact_id: int, input_ids: list[int]) -> None:
    """Refuse edges artifact -> inputs when an input already derives from the artifact."""
    seen, frontier = set(input_ids), list(input_ids)
    while frontier and len(seen) < _CYCLE_WALK_LIMIT:
        upstream = set()
        for start in range(0, len(frontier), _ID_CHUNK):
            upstream.update(conn.scalars(
                select(artifact_inputs.c.input_id)
                .where(artifact_inputs.c.artifact_id.in_(frontier[start:start + _ID_CHUNK]))))
        if artifact_id in upstream:
            raise Refused(f"artifact {artifact_id} is already upstream of input(s) "
                          f"{', '.join(map(str, input_ids))}: the edge would make a cycle; "
                          "nothing was stored")
        frontier = list(upstream - seen)
        seen.update(frontier)


__all__ = ["ArtifactConflict", "ArtifactRepository", "IntegrityError", "InvalidCursor", "FILTERS"]
