"""Another connection holds SQLite's write lock past the busy timeout: writes fail clearly, reads go on."""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from provenant.http.app import create_app
from provenant.bootstrap import configure, reset_services
from provenant.store.database import create_db_engine
from tests.support.cli import cli_env
from tests.support.backlog import legacy_backlog
from tests.support.consistency import assert_consistent, lineage_of

BUSY_TIMEOUT = 1  # seconds; the product default is 30
SIGNAL = {"type": "signal", "name": "TSLA signal", "symbol": "TSLA",
          "workflow_id": "ibkr_trading_signal_workflow", "execution_id": "busy-1",
          "step_name": "generate_signal", "payload": {"action": "BUY", "confidence": 0.7}}


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite only (the scenario is its lock), with a short busy timeout in the URL."""
    return f"sqlite:///{tmp_path / 'provenant.db'}?timeout={BUSY_TIMEOUT}"


@contextmanager
def _forgotten_afterwards():
    try:
        yield
    finally:
        reset_services()


@contextmanager
def write_lock(path):
    """A second connection that holds the write lock (BEGIN EXCLUSIVE) until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_writes_fail_clearly_while_locked_and_succeed_after(services, mlflow_uri, tmp_path,
                                                            fork_server):
    expected = legacy_backlog(services, mlflow_uri, tmp_path, executions=20)
    engine = services.engine
    env = cli_env(services)
    out, err = tmp_path / "repair.out", tmp_path / "repair.err"
    with TestClient(create_app(services)) as client, write_lock(tmp_path / "provenant.db"):
        created = client.post("/api/artifacts", json=SIGNAL)
        assert created.status_code == 503, created.text
        assert "locked by another writer" in created.json()["detail"]
        assert created.headers["Retry-After"]
        assert services.artifacts.count() == len(expected)  # nothing half-written

        via_api = client.post("/api/lineage/repair")
        assert via_api.status_code == 503
        assert any("locked by another writer" in e for e in via_api.json()["errors"])

        job = fork_server.start(["lineage", "repair", "--json"], env, out, err)
        assert fork_server.wait(job) == 1
        assert "locked by another writer" in err.read_text(), err.read_text()
        assert "Traceback" not in err.read_text()
        assert json.loads(out.read_text())["repaired"] == []

        # Reads go on (WAL): lists, an artifact, one whose hydration cannot be written.
        assert client.get("/api/health").status_code == 200
        assert len(client.get("/api/artifacts?limit=500").json()["items"]) == len(expected)
        legacy = client.get("/api/artifacts/1")
        assert legacy.status_code == 200 and legacy.json()["run_id"] is None
        assert assert_consistent(engine) == 0

    with TestClient(create_app(services)) as client:
        assert client.post("/api/artifacts", json=SIGNAL).status_code == 201
    job = fork_server.start(["lineage", "repair", "--json"], env, out, err)
    assert fork_server.wait(job) == 0, err.read_text()
    assert assert_consistent(engine) == len(expected)
    assert {i: lineage_of(engine)[i] for i in expected} == expected


def test_a_hydrating_read_waits_for_the_lock_within_its_deadline_not_the_busy_timeout(
        make_settings, mlflow_uri, tmp_path):
    long_busy = 60  # seconds: a read that waited for it would hold the client for a minute
    services = configure(make_settings(
        database_url=f"sqlite:///{tmp_path / 'long.db'}?timeout={long_busy}",
        mlflow_tracking_uri=mlflow_uri, hydration_timeout_seconds=1))
    expected = legacy_backlog(services, mlflow_uri, tmp_path, executions=2)
    with TestClient(create_app(services)) as client, _forgotten_afterwards():
        with write_lock(tmp_path / "long.db"):
            began = time.monotonic()
            locked = client.get("/api/artifacts/1")
            waited = time.monotonic() - began
        assert locked.status_code == 200 and locked.json()["run_id"] is None
        assert waited < long_busy / 4, f"the read waited {waited:.1f} s for the lock"
        assert services.artifacts.repairs(1) == []

        repaired = client.get("/api/artifacts/1").json()  # the lock is gone: now it writes
        assert repaired["lineage"]["status"] == "repaired"
        assert (repaired["run_id"], repaired["experiment_id"]) == expected[1]
    assert assert_consistent(services.engine) == 1


def test_a_busy_timeout_that_is_not_seconds_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="timeout must be seconds"):
        create_db_engine(f"sqlite:///{tmp_path / 'p.db'}?timeout=soon")
