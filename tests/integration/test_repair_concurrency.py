"""Two repair jobs and concurrent reads on the same legacy artifacts write each one once."""
from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from provenant import runtime
from provenant.http.app import create_app
from provenant.bootstrap import Services
from tests.support.backlog import legacy_with_runs


def test_two_jobs_and_reads_write_each_artifact_once(services, mlflow_uri, tmp_path):
    expected = legacy_with_runs(services, mlflow_uri, tmp_path)
    reports, errors = [], []
    done = threading.Event()
    start_together = threading.Barrier(2)

    def job():
        try:  # each job has its own engine and tracker, like a second process
            own = Services(services.settings)
            _ = (own.engine, own.tracker.client)  # connect first, so the jobs overlap
            start_together.wait()
            reports.append(runtime.repair(own, batch_size=7))
        except Exception as exc:
            errors.append(exc)

    def reader():
        with TestClient(create_app(services)) as client:
            while not done.is_set():
                for artifact_id in range(1, len(expected) + 1, 9):
                    response = client.get(f"/api/artifacts/{artifact_id}")
                    if response.status_code != 200:
                        errors.append(response.text)
                if client.get("/api/artifacts?limit=100").status_code != 200:
                    errors.append("list failed")

    readers = [threading.Thread(target=reader) for _ in range(2)]
    jobs = [threading.Thread(target=job) for _ in range(2)]
    for t in readers + jobs:
        t.start()
    for t in jobs:
        t.join()
    done.set()
    for t in readers:
        t.join()

    assert errors == []
    assert all(r.errors == [] for r in reports)
    first, second = ({r.artifact_id for r in report.repaired} for report in reports)
    assert not first & second
    audit = services.artifacts.repairs(limit=10_000)
    assert sorted(row.artifact_id for row in audit) == sorted(expected)
    by_source = {row.artifact_id: row.source for row in audit}
    assert {i for i, s in by_source.items() if s == "repair"} == first | second
    for artifact_id, run_id in expected.items():
        assert services.artifacts.get(artifact_id).run_id == run_id


class Crash(RuntimeError):
    pass


def test_rerun_after_a_crash_finishes_the_work(services, mlflow_uri, tmp_path):
    expected = legacy_with_runs(services, mlflow_uri, tmp_path)

    def crash_after_first_batch(stage: str, done: int, total: int) -> None:
        if stage == "update" and done > 0:
            raise Crash("killed after the first batch")

    with pytest.raises(Crash):
        runtime.repair(services, batch_size=50, progress=crash_after_first_batch)
    assert len(services.artifacts.repairs(limit=10_000)) == 50

    report = runtime.repair(services, batch_size=50)
    assert report.errors == [] and report.scanned == len(expected) - 50
    assert len(report.repaired) == len(expected) - 50
    audit = services.artifacts.repairs(limit=10_000)
    assert sorted(row.artifact_id for row in audit) == sorted(expected)
    assert runtime.repair(services).scanned == 0
