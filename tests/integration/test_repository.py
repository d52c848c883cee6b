"""The artifact repository and schema handling on real SQLite and PostgreSQL."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, update
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect_class
from sqlalchemy.exc import OperationalError

from provenant.domain.artifacts import NewArtifact
from provenant.domain.lineage import Lineage
from provenant.store.database import (
    MIGRATIONS, SchemaNotReady, create_db_engine, current_revision, ensure_schema, head_revision)
from provenant.store.outages import describe_database_error
from provenant.store.repository import ArtifactRepository, InvalidCursor, _bind_processor
from provenant.store.tables import artifacts

RUN = Lineage("a" * 32, "7")
sqlite_dialect = sqlite_dialect_class()


def signal(i: int, **kw) -> NewArtifact:
    return NewArtifact(type="signal", name=f"s{i}", symbol="TSLA" if i % 2 else "MSFT",
                       execution_id=f"e{i % 3}", workflow_id="wf",
                       payload={"action": "BUY", "confidence": 0.5}, **kw)


@pytest.fixture
def repo(database_url) -> ArtifactRepository:
    engine = create_db_engine(database_url)
    ensure_schema(engine, auto_migrate=True)
    yield ArtifactRepository(engine)
    engine.dispose()


def test_keyset_pages_cover_everything_once_newest_first(repo):
    repo.add_many([signal(i) for i in range(25)])
    seen, cursor = [], None
    while True:
        items, cursor = repo.list(limit=10, cursor=cursor, symbol="TSLA")
        seen.extend(a.id for a in items)
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == 12
    with pytest.raises(InvalidCursor):
        repo.list(cursor="not-a-cursor")
    with pytest.raises(ValueError):
        repo.list(colour="red")


def test_lineage_is_written_once_with_one_audit_row(repo):
    art = repo.add(signal(1))
    assert art.lineage_status == "pending"
    assert repo.set_lineage([(art.id, RUN)], "hydrate") == [art.id]
    assert repo.set_lineage([(art.id, Lineage("b" * 32, "8"))], "repair") == []
    stored = repo.get(art.id)
    assert (stored.run_id, stored.experiment_id, stored.lineage_status) == (
        RUN.run_id, RUN.experiment_id, "repaired")
    audit = repo.repairs(artifact_id=art.id)
    assert [(r.run_id, r.source) for r in audit] == [(RUN.run_id, "hydrate")]


def test_explicit_ids_are_kept_and_new_ids_follow(repo):
    legacy = repo.add(signal(1, id=24))
    assert legacy.id == 24
    fresh = repo.add(signal(2))
    assert fresh.id > 24
    assert repo.existing_ids([24, 25, 999]) == {24, fresh.id} & {24, 25, 999}


def test_timestamps_with_an_offset_keep_their_instant(repo):
    # The old system's PostgreSQL hands back its session's time zone; SQLite keeps wall time.
    hong_kong = timezone(timedelta(hours=8))
    stamp = datetime(2025, 11, 15, 21, 54, 31, 981650, tzinfo=hong_kong)
    kept = repo.add_many([signal(1, id=7, created_at=stamp, updated_at=stamp)], fetch=False)
    assert kept == []
    stored = repo.get(7)
    assert stored.created_at == stored.updated_at == stamp
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at.hour == 13


@pytest.mark.parametrize("stamp", [
    datetime(2025, 11, 15, 13, 54, 31, 981650, tzinfo=timezone.utc),
    datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc),  # no microseconds
    datetime(999, 12, 31, 23, 59, 59, 1),  # naive, a three-digit year
])
def test_bulk_insert_stores_sqlite_timestamps_as_sqlalchemy_does(stamp):
    own = DateTime(timezone=True).dialect_impl(sqlite_dialect).bind_processor(sqlite_dialect)
    assert _bind_processor(artifacts.c.created_at, sqlite_dialect)(stamp) == own(stamp)


def test_schema_revisions_read_without_alembic_agree_with_alembic(database_url):
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    engine = create_db_engine(database_url)
    assert current_revision(engine) is None  # a new database
    ensure_schema(engine, auto_migrate=True)
    with engine.connect() as conn:
        recorded = MigrationContext.configure(conn).get_current_revision()
    assert current_revision(engine) == recorded == head_revision()
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    engine.dispose()


def test_get_many_answers_in_the_order_asked_for_dense_and_sparse_ids(repo):
    stored = [a.id for a in repo.add_many([signal(i) for i in range(6)])]
    dense = [stored[4], stored[0], stored[5] + 1, stored[2]]  # read as one range of ids
    assert [a.id for a in repo.get_many(dense)] == [stored[4], stored[0], stored[2]]
    sparse = [stored[5], 10**9, 10**12]  # read by an IN list
    assert [a.id for a in repo.get_many(sparse)] == [stored[5]]
    assert repo.get_many([]) == []


def test_missing_lineage_lists_only_rows_without_run(repo):
    rows = repo.add_many([signal(i) for i in range(5)])
    repo.set_lineage([(rows[0].id, RUN)], "repair")
    assert [a.id for a in repo.missing_lineage()] == [a.id for a in rows[1:]]


@pytest.mark.postgres
def test_server_database_is_not_migrated_silently(postgres_url, tmp_path):
    engine = create_db_engine(postgres_url)
    with pytest.raises(SchemaNotReady, match="provenant db upgrade"):
        ensure_schema(engine, auto_migrate=False)
    provenant = Path(sys.executable).with_name("provenant")
    env = {"PROVENANT_DATABASE_URL": postgres_url, "PROVENANT_HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([provenant, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ensure_schema(engine, auto_migrate=False)  # now current: no error
    engine.dispose()


def test_cli_reports_an_unreachable_database_without_a_traceback(tmp_path):
    provenant = Path(sys.executable).with_name("provenant")
    env = {"PROVENANT_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
           "PROVENANT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([provenant, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "Error:" in done.stderr and "Traceback" not in done.stderr


def test_set_lineage_waits_for_another_writer_at_most_its_lock_timeout(repo):
    art = repo.add(signal(1))
    other = repo.engine.connect().execution_options(immediate=True)
    with other, other.begin():  # another writer holds the artifact (PostgreSQL) / the DB (SQLite)
        other.execute(update(artifacts).where(artifacts.c.id == art.id).values(name="held"))
        with pytest.raises(OperationalError) as waited:
            repo.set_lineage([(art.id, RUN)], "hydrate", lock_timeout=0.2)
        assert "locked by another writer" in describe_database_error(waited.value)
        other.rollback()
    assert repo.get(art.id).run_id is None and repo.repairs(art.id) == []
    assert repo.set_lineage([(art.id, RUN)], "hydrate", lock_timeout=0.2) == [art.id]
