"""`import-legacy --workers N`: pages read, converted and written by N processes give the
same rows, hashes, decision chains and report as one process."""
from __future__ import annotations

import json
from datetime import UTC

from sqlalchemy import create_engine, select

from provenant.store.tables import artifact_inputs, artifacts

from tests.support.cli import cli
from tests.support.legacy_db import LegacyDb, chart_row, llm_row, signal_row, sqlite_legacy_url

ROWS = 2_600  # three pages of 1,000: chains of 3 cross both page ends


def legacy_table(path) -> str:
    rows = []
    for n in range(ROWS // 3):
        first, execution = 3 * n + 1, f"2025-11-15 10:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}"
        rows += [chart_row(first, execution), llm_row(first + 1, execution),
                 signal_row(first + 2, execution)]
    rows[1500] = signal_row(rows[1500]["id"], "bad", confidence=7)  # fails: not 0 to 1
    url = sqlite_legacy_url(path)
    LegacyDb(url).add(*rows).close()
    return url


def stored(database_url: str) -> tuple[list, set]:
    engine = create_engine(database_url)
    c = artifacts.c
    try:
        with engine.connect() as conn:
            # Timestamps as UTC without zone: SQLite keeps none, PostgreSQL gives one.
            rows = [(*r[:-1], r[-1].astimezone(UTC).replace(tzinfo=None) if r[-1].tzinfo
                     else r[-1]) for r in conn.execute(
                select(c.id, c.type, c.name, c.execution_id, c.payload, c.content_sha256,
                       c.created_at).order_by(c.id))]
            edges = {tuple(r) for r in conn.execute(select(artifact_inputs))}
    finally:
        engine.dispose()
    return rows, edges


def test_worker_processes_import_exactly_what_one_process_does(services, tmp_path):
    url = legacy_table(tmp_path / "legacy.db")
    one_db = f"sqlite:///{tmp_path / 'one.db'}"

    parallel = cli(services, "artifacts", "import-legacy", "--from", url, "--workers", "2",
                   "--json")
    single = cli(services, "artifacts", "import-legacy", "--from", url, "--workers", "0",
                 "--json", PROVENANT_DATABASE_URL=one_db)

    assert parallel.returncode == single.returncode == 1, parallel.stderr  # the failed row
    assert "1 legacy row(s) could not be imported" in parallel.stderr
    ours, theirs = json.loads(parallel.stdout), json.loads(single.stdout)
    assert ours["imported"] == theirs["imported"] == [i for i in range(1, ROWS // 3 * 3 + 1)
                                                      if i != 1501]
    assert ours["failed"] == theirs["failed"] and [f["id"] for f in ours["failed"]] == [1501]
    assert ours["inferred_edges"] == theirs["inferred_edges"] > 0
    rows, edges = stored(services.settings.database_url)
    assert (rows, edges) == stored(one_db)
    # Chains that cross a page end are whole: the signal of execution 333 (ids 1000-1002).
    assert {(1002, 1001), (1001, 1000)} <= {(a, i) for a, i, _ in edges}

    again = cli(services, "artifacts", "import-legacy", "--from", url, "--workers", "2",
                "--json")
    assert json.loads(again.stdout)["skipped"] == ours["imported"]
    assert stored(services.settings.database_url) == (rows, edges)  # nothing added or lost
