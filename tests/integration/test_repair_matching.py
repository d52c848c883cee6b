"""Repair: matching rules (as hydration), cost rule, the route and the periodic schedule."""
from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from provenant import runtime
from provenant.http.app import create_app
from provenant.artifacts import store_signal_artifact
from provenant.bootstrap import configure
from provenant.lineage.scheduler import PeriodicRepair
from tests.support.legacy_db import WORKFLOW, bulk_create_runs, create_run

QUOTED = """2025-11-15 13:54:31.981650+00:00 'o"dd"'"""


def pending(execution_id: str, workflow_id: str | None = WORKFLOW):
    """A legacy-like artifact: an execution id, no lineage (no run exists when it is stored)."""
    return store_signal_artifact(name="s", symbol="TSLA", action="BUY", confidence=0.5,
                                 workflow_id=workflow_id, execution_id=execution_id)


def test_matching_rules_match_hydration(services, mlflow_uri):
    artifacts = {
        "tagged": pending("e-tagged"),
        "legacy_run": pending("e-legacy-run"),          # run has only an execution_id tag
        "other_workflow": pending("e-other-workflow"),  # only a run of another workflow
        "no_workflow": pending("e-no-workflow", workflow_id=None),
        "quoted": pending(QUOTED),
        "newest": pending("e-newest"),
        "elsewhere": pending("e-tagged", workflow_id="another_workflow"),
    }
    client = MlflowClient(mlflow_uri)
    exp_a, exp_b = client.create_experiment("a"), client.create_experiment("b")
    runs = {
        "tagged": create_run(client, exp_a, "e-tagged"),
        "legacy_run": create_run(client, exp_b, "e-legacy-run", workflow_id=None),
        "no_workflow": create_run(client, exp_b, "e-no-workflow", workflow_id="any_workflow"),
        "quoted": create_run(client, exp_a, QUOTED),
        "newest": create_run(client, exp_b, "e-newest", start_time=2_000_000_000_000),
    }
    create_run(client, exp_a, "e-other-workflow", workflow_id="another_workflow")
    create_run(client, exp_a, "e-newest", start_time=1_000_000_000_000)

    report = runtime.repair(services)

    got = {r.artifact_id: r.run_id for r in report.repaired}
    assert got == {artifacts[k].id: runs[k].info.run_id for k in runs}
    assert sorted(report.unresolved) == sorted(
        [artifacts["other_workflow"].id, artifacts["elsewhere"].id])
    assert report.errors == []


def test_workflow_filter_and_few_executions_ask_per_execution(services, mlflow_uri):
    wanted = pending("busy-7")
    other = pending("busy-8", workflow_id="some_other_workflow")
    experiment = MlflowClient(mlflow_uri).create_experiment("busy")
    # A busy store: 3,000 runs of this workflow, so scanning it would cost 3+ pages.
    bulk_create_runs(mlflow_uri, experiment,
                     [(f"busy-{n}", WORKFLOW, 1_700_000_000_000 + n) for n in range(3_000)])

    report = runtime.repair(services, workflow_id=WORKFLOW)

    assert [r.artifact_id for r in report.repaired] == [wanted.id]
    assert report.scanned == 1 and services.artifacts.get(other.id).run_id is None
    assert report.tracking_calls <= 2  # experiments + one lookup, not a 3-page scan


def test_repair_route_needs_the_token_when_set(make_settings, database_url, mlflow_uri):
    services = configure(make_settings(database_url=database_url, mlflow_tracking_uri=mlflow_uri,
                                       api_token="s3cret", repair_interval_seconds=0))
    artifact = pending("route-1")
    run = create_run(MlflowClient(mlflow_uri), "0", "route-1")
    with TestClient(create_app(services)) as client:
        assert client.post("/api/lineage/repair").status_code == 401
        assert client.post("/api/lineage/repair",
                           headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        dry = client.post("/api/lineage/repair", json={"dry_run": True}, headers=auth)
        assert dry.status_code == 200 and dry.json()["dry_run"] is True
        assert services.artifacts.get(artifact.id).run_id is None
        assert client.post("/api/lineage/repair", json={"dry_run": "maybe"},
                           headers=auth).status_code == 422
        done = client.post("/api/lineage/repair", headers=auth).json()
    assert done["repaired"] == [{"artifact_id": artifact.id, "run_id": run.info.run_id,
                                 "experiment_id": "0"}]


def test_periodic_repair_runs_survives_failures_and_stops(services, mlflow_uri, caplog):
    artifact = pending("scheduled-1")
    create_run(MlflowClient(mlflow_uri), "0", "scheduled-1")
    passes = threading.Semaphore(0)
    scheduler = PeriodicRepair(lambda: runtime.repair(services), interval_seconds=0.05)
    real_run_once = scheduler.run_once

    def counted():
        report = real_run_once()
        passes.release()
        return report

    scheduler.run_once = counted
    scheduler.start()
    try:
        assert passes.acquire(timeout=60)
        assert services.artifacts.get(artifact.id).lineage_status == "repaired"
        with services.engine.begin() as conn:  # a real failure: the table is gone
            conn.exec_driver_sql("ALTER TABLE artifacts RENAME TO artifacts_away")
        try:
            for _ in range(2):
                assert passes.acquire(timeout=60)
        finally:
            with services.engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE artifacts_away RENAME TO artifacts")
        assert passes.acquire(timeout=60)  # and it carries on once the database is back
    finally:
        scheduler.stop()
    assert "scheduled lineage repair failed" in caplog.text
    assert not any(t.name == "provenant-repair" and t.is_alive() for t in threading.enumerate())
