"""SQLAlchemy tables for artifacts, execution runs and the lineage audit log."""
from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table,
    UniqueConstraint, and_, false,
)

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})

# BigInteger ids on servers, INTEGER (rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

artifacts = Table(
    "artifacts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("type", String(16), nullable=False),
    Column("name", String(500), nullable=False),
    Column("symbol", String(32)),
    Column("workflow_id", String(250)),
    Column("execution_id", String(250)),
    Column("step_name", String(250)),
    Column("dag_id", String(250)),
    Column("task_id", String(250)),
    Column("run_id", String(64)),
    Column("experiment_id", String(64)),
    Column("lineage_repaired_at", DateTime(timezone=True)),
    Column("payload", JSON, nullable=False),
    Column("image_key", String(200)),
    Column("image_content_type", String(64)),
    # SHA-256 of the content as stored (domain.provenance.content_hash); NULL on rows stored
    # before hashing existed, which are then "unverifiable", never silently "verified".
    Column("content_sha256", String(64)),
    # The run whose manifest records this row's hash (set by the workflow's logging step just
    # before it writes the manifest): from then on its content cannot change.
    Column("sealed_by_run", String(64)),
    # Rows of the previous system, kept as they were (it stored retries twice).
    Column("imported", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Keyset pagination walks id DESC; each filter gets (filter, id).
    Index(None, "type", "id"),
    Index(None, "symbol", "id"),
    Index(None, "workflow_id", "id"),
    Index(None, "execution_id", "id"),
    Index(None, "run_id", "id"),
)

# The repair job's work list: only rows still missing lineage.
Index("ix_artifacts_missing_lineage", artifacts.c.execution_id, artifacts.c.id,
      postgresql_where=artifacts.c.run_id.is_(None),
      sqlite_where=artifacts.c.run_id.is_(None))

# Listing by stored lineage state, newest first: rows still pending or repaired are few, so
# without these a page of them walks the whole id index.
Index("ix_artifacts_pending", artifacts.c.id,
      postgresql_where=artifacts.c.run_id.is_(None), sqlite_where=artifacts.c.run_id.is_(None))
Index("ix_artifacts_repaired", artifacts.c.id,
      postgresql_where=artifacts.c.lineage_repaired_at.is_not(None),
      sqlite_where=artifacts.c.lineage_repaired_at.is_not(None))

# The idempotency key: a retried step (Airflow runs tasks at least once) stores the same
# artifact under the same key, so the second insert fails here and the store returns the
# first row. Rows missing a part of the key (ad-hoc API posts) and rows imported from the
# previous system (which repeats keys: retries, orders named like signals) are not keyed.
IDEMPOTENCY_KEY = ("workflow_id", "execution_id", "step_name", "name")
_KEYED = and_(artifacts.c.imported == false(),
              *(artifacts.c[column].is_not(None) for column in IDEMPOTENCY_KEY))
Index("uq_artifacts_idempotency_key", *(artifacts.c[column] for column in IDEMPOTENCY_KEY),
      unique=True, postgresql_where=_KEYED, sqlite_where=_KEYED)

# Derivation edges: `artifact_id` was derived from `input_id` (the decision chain). Walked
# both ways: up (what an artifact came from) by the primary key, down by the second index.
# `inferred` edges were guessed afterwards (legacy rows, by step order), not recorded live.
artifact_inputs = Table(
    "artifact_inputs", metadata,
    Column("artifact_id", Id, primary_key=True),
    Column("input_id", Id, primary_key=True),
    Column("inferred", Boolean, nullable=False, default=False, server_default=false()),
    Index(None, "input_id", "artifact_id"),
)

# Append-only (the migration adds triggers that refuse UPDATE and DELETE): one row per change
# of an artifact's content after it was stored, so `lineage verify` and evidence bundles can
# tell a recorded revision from an edit made behind Provenant's back.
artifact_revisions = Table(
    "artifact_revisions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("artifact_id", Id, nullable=False),
    Column("old_sha256", String(64)),
    Column("new_sha256", String(64)),
    Column("changed", JSON, nullable=False),
    Column("source", String(16), nullable=False),
    Column("revised_at", DateTime(timezone=True), nullable=False),
    Index(None, "artifact_id", "id"),
)

# One MLflow run per (workflow_id, execution_id): the unique key is the lock that
# stops two processes from keeping two runs for one execution.
execution_runs = Table(
    "execution_runs", metadata,
    Column("workflow_id", String(250), primary_key=True),
    Column("execution_id", String(250), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("experiment_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Append-only: one row per artifact whose lineage was filled in after it was stored.
lineage_repairs = Table(
    "lineage_repairs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("artifact_id", Id, nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("experiment_id", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("repaired_at", DateTime(timezone=True), nullable=False),
    # The conditional update already writes once; this makes it a hard guarantee.
    UniqueConstraint("artifact_id"),
)
