"""SIGKILL the real repair job at seeded random points; a re-run still repairs each artifact once."""
from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter

import pytest

from tests.support.cli import cli, cli_env
from tests.support.backlog import legacy_backlog
from tests.support.consistency import assert_consistent, lineage_of
from tests.support.jobs import wait_for_repairs

pytestmark = pytest.mark.slow

SEED, KILLS = 20261126, 20
EXECUTIONS = 600  # x5 = 3,000 artifacts: the kills below use up about half of them
BATCH_SIZES = (1, 7, 25, 100)  # small batches put kills between batches; big ones, inside
EARLY = 0.2  # share of kills at a random time in startup, scan or matching
MAX_SEEN = 100  # other kills wait for up to this many logged repairs, then a few ms more


def test_sigkill_at_random_points_then_rerun_repairs_each_once(services, mlflow_uri, tmp_path,
                                                               fork_server):
    expected = legacy_backlog(services, mlflow_uri, tmp_path, EXECUTIONS)
    total, engine = len(expected), services.engine
    rng = random.Random(SEED)
    env = cli_env(services)
    out, err = tmp_path / "repair.out", tmp_path / "repair.err"
    landed = Counter()
    for _ in range(KILLS):
        before = assert_consistent(engine)
        batch_size = rng.choice(BATCH_SIZES)
        early, delay = rng.random() < EARLY, rng.uniform(0, 0.005)
        pid = fork_server.start(["lineage", "repair", "--json"],
                                {**env, "PROVENANT_REPAIR_BATCH_SIZE": str(batch_size)}, out, err)
        if early:
            time.sleep(rng.uniform(0, 0.6))
        else:
            wait_for_repairs(err, pid, rng.randint(1, MAX_SEEN))
            time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        code = fork_server.wait(pid)
        after = assert_consistent(engine)  # no lineage without its audit row, or vice versa
        landed[_where(code, before, after, total)] += 1
    print(f"\n{engine.dialect.name}: {KILLS} kills on {total} artifacts: {dict(landed)}; "
          f"{assert_consistent(engine)} repaired before the final run")
    assert landed["mid-repair"] >= 1

    # The console script itself finishes the job.
    final = cli(services, "lineage", "repair", "--json", PROVENANT_REPAIR_BATCH_SIZE="50")
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert report["errors"] == [] and report["unresolved"] == []
    assert len(report["repaired"]) == report["scanned"] == total - after

    assert assert_consistent(engine) == total
    assert lineage_of(engine) == expected  # every artifact names its execution's newest run
    if engine.dialect.name == "sqlite":  # 20 writers killed mid-transaction left no damage
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    again = fork_server.start(["lineage", "repair", "--json"], env, out, err)
    assert fork_server.wait(again) == 0
    assert json.loads(out.read_text())["scanned"] == 0


def _where(code: int, before: int, after: int, total: int) -> str:
    if code != -signal.SIGKILL:
        return "after it finished"
    if after == before:
        return "before the first commit"  # startup, scan, matching, or inside batch one
    return "mid-repair" if after < total else "after the last commit"
