"""Hydration on read: one lookup per execution, a deadline, miss memory, never an error."""
from __future__ import annotations

import threading

import pytest

from provenant.domain.artifacts import NewArtifact
from provenant.domain.lineage import LineageStatus
from provenant.lineage.hydration import Hydrator
from provenant.lineage.resolve import Resolver
from tests.support.fakes import FakeClaims, FakeRepository, FakeTracker

WF = "wf"


class GatedTracker(FakeTracker):
    """A tracker whose every lookup waits at a gate: a stuck MLflow, released at will."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.arrived = threading.Event()  # a lookup reached the tracker
        self.entered = 0

    def experiment_ids(self) -> list[str]:
        self.entered += 1
        self.arrived.set()
        self.gate.wait()
        return super().experiment_ids()


class Clock:
    """An injected clock: it moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tracker():
    return FakeTracker()


@pytest.fixture
def gated():
    tracker = GatedTracker()
    yield tracker
    tracker.gate.set()  # let the stuck lookup threads end


@pytest.fixture
def repository():
    return FakeRepository()


def hydrator(tracker, repository, **options) -> Hydrator:
    options.setdefault("timeout_seconds", 5.0)
    return Hydrator(Resolver(tracker, FakeClaims()), repository, **options)


def pending(repository, execution_id: str | None = "e1", workflow_id: str | None = WF, **kw):
    return repository.add(NewArtifact(type="signal", name="s", workflow_id=workflow_id,
                                       execution_id=execution_id,
                                       payload={"action": "BUY", "confidence": 0.5}, **kw))


def test_found_lineage_is_written_once_with_an_audit_row(tracker, repository):
    run = tracker.add_run(execution_id="e1", workflow_id=WF)
    artifact, status = hydrator(tracker, repository).hydrate(pending(repository))
    assert status is LineageStatus.repaired and artifact.lineage == run.lineage
    assert repository.get(artifact.id).lineage == run.lineage
    assert [(r.artifact_id, r.run_id, r.source) for r in repository.repairs()] == [
        (artifact.id, run.run_id, "hydrate")]


def test_no_run_yet_is_pending_and_nothing_is_written(tracker, repository):
    tracker.add_run(execution_id="another", workflow_id=WF)
    artifact, status = hydrator(tracker, repository).hydrate(pending(repository))
    assert status is LineageStatus.pending and artifact.run_id is None
    assert repository.repairs() == []


def test_one_lookup_serves_every_artifact_of_an_execution(tracker, repository):
    run = tracker.add_run(execution_id="e1", workflow_id=WF)
    artifacts = [pending(repository) for _ in range(5)]
    results = hydrator(tracker, repository).hydrate_many(artifacts)
    assert [a.lineage for a, _ in results] == [run.lineage] * 5
    assert tracker.calls == 2  # experiments + one search, not one per artifact


def test_nothing_to_look_up_makes_no_call(tracker, repository):
    stored = pending(repository, run_id="a" * 32, experiment_id="1")
    loose = pending(repository, execution_id=None)
    results = hydrator(tracker, repository).hydrate_many([stored, loose])
    assert [s for _, s in results] == [LineageStatus.persisted, LineageStatus.pending]
    assert tracker.calls == 0


def test_a_miss_is_remembered_for_its_ttl_only(tracker, repository):
    clock = Clock()
    subject = hydrator(tracker, repository, miss_ttl_seconds=60, clock=clock)
    artifact = pending(repository)
    assert subject.hydrate(artifact)[1] is LineageStatus.pending
    calls = tracker.calls
    run = tracker.add_run(execution_id="e1", workflow_id=WF)  # the run appears
    clock.now += 59
    assert subject.hydrate(artifact)[1] is LineageStatus.pending
    assert tracker.calls == calls  # answered from memory
    clock.now += 2
    hydrated, status = subject.hydrate(artifact)
    assert status is LineageStatus.repaired and hydrated.lineage == run.lineage


def test_a_zero_ttl_never_remembers_a_miss(tracker, repository):
    subject = hydrator(tracker, repository, miss_ttl_seconds=0, clock=Clock())
    artifact = pending(repository)
    assert subject.hydrate(artifact)[1] is LineageStatus.pending
    tracker.add_run(execution_id="e1", workflow_id=WF)
    assert subject.hydrate(artifact)[1] is LineageStatus.repaired


def test_a_stuck_tracker_costs_a_read_its_deadline_only(gated, repository):
    subject = hydrator(gated, repository, timeout_seconds=0.05)
    artifact = pending(repository)
    run = gated.add_run(execution_id="e1", workflow_id=WF)
    assert subject.hydrate(artifact) == (artifact, LineageStatus.unavailable)
    assert repository.get(artifact.id).run_id is None
    gated.gate.set()  # the tracker answers again: a later read joins or repeats the lookup
    subject.timeout_seconds = 5.0
    assert subject.hydrate(artifact)[0].lineage == run.lineage


def test_max_lookups_bounds_the_threads_and_a_busy_read_gives_up(gated, repository):
    subject = hydrator(gated, repository, timeout_seconds=0.05, max_lookups=1)
    first, second = pending(repository, "e1"), pending(repository, "e2")
    assert subject.hydrate(first)[1] is LineageStatus.unavailable  # its lookup is stuck
    assert subject.hydrate(second)[1] is LineageStatus.unavailable  # no free slot
    assert gated.arrived.wait(5) and gated.entered == 1  # the second read never reached the tracker


def test_reads_of_one_execution_join_its_lookup_in_flight(gated, repository):
    subject = hydrator(gated, repository, timeout_seconds=0.05)
    artifact = pending(repository)
    for _ in range(3):
        assert subject.hydrate(artifact)[1] is LineageStatus.unavailable
    assert gated.arrived.wait(5) and gated.entered == 1


def test_an_unreachable_tracker_gives_unavailable(tracker, repository):
    tracker.down = True
    assert hydrator(tracker, repository).hydrate(pending(repository))[1] is (
        LineageStatus.unavailable)


def test_a_failing_write_answers_pending_without_raising(tracker, repository):
    tracker.add_run(execution_id="e1", workflow_id=WF)

    def locked(*args, **kwargs):
        raise RuntimeError("database is locked")
    repository.set_lineage = locked
    artifact, status = hydrator(tracker, repository).hydrate(pending(repository))
    assert status is LineageStatus.pending and artifact.run_id is None


def test_broken_hydration_still_answers(tracker, repository):
    def broken() -> float:
        raise ZeroDivisionError("clock")
    subject = hydrator(tracker, repository, clock=broken)
    stored = pending(repository, run_id="a" * 32, experiment_id="1")
    missing = pending(repository)
    assert [s for _, s in subject.hydrate_many([stored, missing])] == [
        LineageStatus.persisted, LineageStatus.unavailable]
    assert subject.lineage_of((WF, "e1")) is None


def test_lineage_of_an_execution(tracker, repository):
    run = tracker.add_run(execution_id="e1", workflow_id=WF)
    subject = hydrator(tracker, repository)
    assert subject.lineage_of((WF, "e1")) == run.lineage
    assert subject.lineage_of((WF, "nothing")) is None
    tracker.down = True
    assert subject.lineage_of((WF, "e2")) is None
