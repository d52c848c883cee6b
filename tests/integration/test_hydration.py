"""Hydrator: bounded, never raising, misses remembered only briefly (real DB and MLflow store)."""
from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from mlflow.tracking import MlflowClient

from provenant.artifacts import store_signal_artifact
from provenant.bootstrap import configure, reset_services
from provenant.domain.lineage import LineageStatus
from provenant import runtime
from provenant.lineage.hydration import Hydrator

WF = "ibkr_trading_signal_workflow"


@pytest.fixture(autouse=True)
def _short_mlflow_timeout(monkeypatch):
    # Lookups left running after a test must not hold a connection for minutes.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pending_signal(execution_id: str, **kwargs):
    art = store_signal_artifact(name="s", symbol="TSLA", action="BUY", confidence=0.5,
                                workflow_id=WF, execution_id=execution_id, **kwargs)
    assert art.run_id is None
    return art


def log_run(uri: str, execution_id: str) -> str:
    client = MlflowClient(uri)
    run = client.create_run("0", tags={"execution_id": execution_id, "workflow_id": WF})
    return run.info.run_id


def hydrator_of(services, **options) -> Hydrator:
    """The app's hydrator on these services, with options (clock, max_lookups) changed."""
    settings = services.settings
    return Hydrator(runtime.resolver(services), services.artifacts,
                    timeout_seconds=settings.hydration_timeout_seconds,
                    miss_ttl_seconds=settings.hydration_miss_ttl_seconds, **options)


def test_miss_is_remembered_only_for_its_ttl(services, mlflow_uri):
    clock = Clock()
    hydrator = hydrator_of(services, clock=clock)
    art = pending_signal("exec-ttl")
    assert hydrator.hydrate(art)[1] == LineageStatus.pending
    run_id = log_run(mlflow_uri, "exec-ttl")
    calls = services.tracker.calls

    clock.now += services.settings.hydration_miss_ttl_seconds - 1
    assert hydrator.hydrate(art)[1] == LineageStatus.pending
    assert services.tracker.calls == calls  # the miss is remembered: no tracking call

    clock.now += 2
    hydrated, status = hydrator.hydrate(art)
    assert status == LineageStatus.repaired and hydrated.run_id == run_id
    assert services.tracker.calls > calls
    assert [r.source for r in services.artifacts.repairs(art.id)] == ["hydrate"]

    calls = services.tracker.calls
    stored = services.artifacts.get(art.id)
    assert hydrator.hydrate(stored) == (stored, LineageStatus.repaired)
    assert services.tracker.calls == calls


def test_zero_ttl_never_remembers_a_miss(make_settings, database_url, mlflow_uri):
    services = configure(make_settings(database_url=database_url, mlflow_tracking_uri=mlflow_uri,
                                       hydration_miss_ttl_seconds=0))
    try:
        hydrator = hydrator_of(services)
        art = pending_signal("exec-no-ttl")
        assert hydrator.hydrate(art)[1] == LineageStatus.pending
        log_run(mlflow_uri, "exec-no-ttl")
        assert hydrator.hydrate(art)[1] == LineageStatus.repaired
    finally:
        reset_services()


def test_nothing_to_look_up_makes_no_call(services, mlflow_uri):
    hydrator = hydrator_of(services)
    no_execution = store_signal_artifact(name="s", symbol="TSLA", action="BUY", confidence=0.5)
    run_id = log_run(mlflow_uri, "exec-persisted")
    persisted = store_signal_artifact(name="s", symbol="TSLA", action="BUY", confidence=0.5,
                                      workflow_id=WF, execution_id="exec-persisted",
                                      run_id=run_id, experiment_id="0")
    calls = services.tracker.calls
    assert hydrator.hydrate(no_execution) == (no_execution, LineageStatus.pending)
    assert hydrator.hydrate(persisted) == (persisted, LineageStatus.persisted)
    assert services.tracker.calls == calls


def test_one_lookup_serves_all_artifacts_of_an_execution(services, mlflow_uri):
    hydrator = hydrator_of(services)
    single = pending_signal("exec-single")
    group = [pending_signal("exec-group") for _ in range(5)]
    log_run(mlflow_uri, "exec-single")
    run_id = log_run(mlflow_uri, "exec-group")

    before = services.tracker.calls
    hydrator.hydrate(single)
    per_lookup = services.tracker.calls - before
    before = services.tracker.calls
    results = hydrator.hydrate_many(group)
    assert services.tracker.calls - before == per_lookup
    assert [(a.run_id, s) for a, s in results] == [(run_id, LineageStatus.repaired)] * 5
    assert all(len(services.artifacts.repairs(a.id)) == 1 for a in group)


def test_unreachable_tracker_gives_unavailable_never_an_error(make_settings, database_url,
                                                              monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    services = configure(make_settings(database_url=database_url,
                                       mlflow_tracking_uri="http://127.0.0.1:9",
                                       hydration_timeout_seconds=5))
    try:
        art = services.artifacts.add(_new_pending("exec-down"))
        hydrated, status = hydrator_of(services).hydrate(art)
        assert status == LineageStatus.unavailable and hydrated.run_id is None
        assert services.artifacts.repairs(art.id) == []
    finally:
        reset_services()


def test_a_stuck_tracker_does_not_pile_up_lookups(services):
    art = pending_signal("exec-busy")
    calls = services.tracker.calls
    assert hydrator_of(services, max_lookups=0).hydrate(art)[1] == LineageStatus.unavailable
    assert services.tracker.calls == calls


def test_a_read_waits_for_a_free_lookup_slot_within_its_deadline(services, mlflow_uri):
    art = pending_signal("exec-slot")
    run_id = log_run(mlflow_uri, "exec-slot")
    hydrator = hydrator_of(services, max_lookups=1)
    other = (WF, "exec-held")
    with hydrator._lock:  # the one slot is taken by another execution's lookup...
        hydrator._inflight[other] = Future()

    def finish_other():  # ...which ends well inside the read's deadline
        with hydrator._lock:
            hydrator._inflight.pop(other)
            hydrator._lock.notify_all()

    threading.Timer(0.3, finish_other).start()
    hydrated, status = hydrator.hydrate(art)
    assert status == LineageStatus.repaired and hydrated.run_id == run_id


def test_broken_hydration_still_answers(services):
    art = pending_signal("exec-broken")
    services.settings.hydration_timeout_seconds = "not a number"  # break the deadline maths
    assert hydrator_of(services).hydrate(art) == (art, LineageStatus.unavailable)


def _new_pending(execution_id: str):
    from provenant.domain.artifacts import NewArtifact

    return NewArtifact(type="signal", name="s", symbol="TSLA", workflow_id=WF,
                       execution_id=execution_id, payload={"action": "BUY", "confidence": 0.5})
