"""Verify: each stored lineage against its run, runs fetched in batches, problems in words."""
from __future__ import annotations

import pytest

from provenant.adapters.tracking import TrackedRun
from provenant.domain.artifacts import Artifact, NewArtifact
from provenant.lineage.verify import run_problem, verify_lineage
from tests.support.fakes import FakeRepository, FakeTracker

WF = "wf"
RUN_ID = "0123456789abcdef0123456789abcdef"


def artifact(run_id: str | None = RUN_ID, experiment_id: str | None = "1",
             workflow_id: str | None = WF, execution_id: str | None = "e1") -> Artifact:
    return FakeRepository().add(NewArtifact(
        type="signal", name="s", payload={"action": "BUY", "confidence": 0.5},
        run_id=run_id, experiment_id=experiment_id, workflow_id=workflow_id,
        execution_id=execution_id))


def run(experiment_id: str = "1", **tags: str) -> TrackedRun:
    return TrackedRun(RUN_ID, experiment_id, tags)


@pytest.mark.parametrize("stored, found, problem", [
    (artifact(), run(execution_id="e1", workflow_id=WF), None),
    (artifact(), run(execution_id="e1"), None),  # a legacy run fits
    (artifact(execution_id=None), run(), None),  # nothing known to compare
    (artifact("not-a-run-id"), run(), "run_id is not a valid MLflow run id"),
    (artifact(), None, "run does not exist (or was deleted, or its experiment was)"),
    (artifact(), run("2", execution_id="e1"), "run belongs to experiment 2, artifact says 1"),
    (artifact(), run(execution_id="e2"), "run's execution_id tag is 'e2', artifact's is 'e1'"),
    (artifact(), run(execution_id="e1", workflow_id="x"),
     "run's workflow_id tag is 'x', artifact's is 'wf'"),
])
def test_run_problem_says_what_is_wrong(stored, found, problem):
    assert run_problem(stored, found) == problem


def store(repository: FakeRepository, lineage, execution_id: str = "e1") -> Artifact:
    return repository.add(NewArtifact(
        type="signal", name="s", payload={"action": "BUY", "confidence": 0.5},
        workflow_id=WF, execution_id=execution_id,
        run_id=lineage.run_id if lineage else None,
        experiment_id=lineage.experiment_id if lineage else None))


def test_sound_lineage_verifies_clean_with_one_fetch_per_batch():
    tracker, repository = FakeTracker(), FakeRepository()
    runs = [tracker.add_run(execution_id=f"e{n}", workflow_id=WF) for n in range(3)]
    for n, tracked in enumerate(runs):
        for _ in range(4):
            store(repository, tracked.lineage, f"e{n}")
    store(repository, None)  # no lineage: nothing to check
    report = verify_lineage(repository, tracker)
    assert report.ok and (report.checked, report.runs) == (12, 3)
    assert report.tracking_calls == 2  # experiments + one batch of run ids


def test_every_problem_is_reported_with_its_artifact():
    tracker, repository = FakeTracker(), FakeRepository()
    good = tracker.add_run(execution_id="e1", workflow_id=WF)
    foreign = tracker.add_run(execution_id="e1", workflow_id="other")
    deleted = tracker.add_run(execution_id="e1", workflow_id=WF)
    tracker.deleted.add(deleted.run_id)
    store(repository, good.lineage)
    bad = [store(repository, foreign.lineage), store(repository, deleted.lineage)]
    report = verify_lineage(repository, tracker)
    assert not report.ok and report.checked == 3
    assert [(m.artifact_id, m.problem) for m in report.mismatches] == [
        (bad[1].id, "run does not exist (or was deleted, or its experiment was)"),
        (bad[0].id, "run's workflow_id tag is 'other', artifact's is 'wf'")]


def test_a_tracker_that_cannot_be_asked_is_an_error_not_a_mismatch():
    tracker, repository = FakeTracker(), FakeRepository()
    store(repository, tracker.add_run(execution_id="e1").lineage)
    tracker.down = True
    report = verify_lineage(repository, tracker)
    assert report.errors == ["fake tracker is down"] and report.mismatches == []
    assert not report.ok


class SearchLog(FakeTracker):
    """Records the ids of each run search; goes down at search number `down_at`."""

    def __init__(self, down_at: int | None = None) -> None:
        super().__init__()
        self.searched: list[list[str]] = []
        self.down_at = down_at

    def runs_by_id(self, run_ids, experiment_ids=None):
        self.searched.append(list(run_ids))
        self.down = len(self.searched) == self.down_at
        return super().runs_by_id(run_ids, experiment_ids)


def many_runs(tracker: FakeTracker, runs: int, per_run: int) -> FakeRepository:
    repository = FakeRepository()
    for n in range(runs):
        tracked = tracker.add_run(execution_id=f"e{n}", workflow_id=WF)
        for _ in range(per_run):
            store(repository, tracked.lineage, f"e{n}")
    return repository


def test_searches_ahead_of_the_checks_ask_for_each_run_once():
    tracker = SearchLog()
    repository = many_runs(tracker, 700, 3)  # 2,100 artifacts: runs straddle the chunks
    report = verify_lineage(repository, tracker)
    assert report.ok and (report.checked, report.runs) == (2100, 700)
    searched = [run_id for ids in tracker.searched for run_id in ids]
    assert sorted(searched) == sorted(tracker.runs) and len(tracker.searched) > 2
    assert report.tracking_calls == 1 + len(tracker.searched)


def test_an_outage_in_a_search_ahead_is_an_error_not_a_traceback():
    tracker = SearchLog(down_at=3)
    repository = many_runs(tracker, 700, 3)
    report = verify_lineage(repository, tracker)
    assert report.errors == ["fake tracker is down"] and not report.ok
