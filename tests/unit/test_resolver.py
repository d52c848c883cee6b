"""The resolver: one matching rule, and a cost that grows with pages or executions only."""
from __future__ import annotations

import math

import pytest

from provenant.adapters.tracking import TrackingUnavailable
from provenant.domain.lineage import Lineage
from provenant.lineage.resolve import Resolver, matches, mismatch
from tests.support.fakes import FakeClaims, FakeTracker

WF = "wf"


@pytest.mark.parametrize("tags, key, reason", [
    ({"execution_id": "e", "workflow_id": WF}, (WF, "e"), None),
    ({"execution_id": "e"}, (WF, "e"), None),  # a legacy run: no workflow tag
    ({"execution_id": "e", "workflow_id": "other"}, (None, "e"), None),  # artifact has none
    ({"execution_id": "e", "workflow_id": "other"}, (WF, "e"),
     "run's workflow_id tag is 'other', artifact's is 'wf'"),
    ({"execution_id": "E", "workflow_id": WF}, (WF, "e"),
     "run's execution_id tag is 'E', artifact's is 'e'"),
    ({"workflow_id": WF}, (WF, "e"), "run's execution_id tag is None, artifact's is 'e'"),
    ({}, (None, None), None),  # nothing known on either side disqualifies nothing
])
def test_mismatch_says_why_and_matches_agrees(tags, key, reason):
    assert mismatch(tags, *key) == reason
    assert matches(FakeTracker().add_run(**tags), key) is (reason is None)


def resolver(page_size: int = 1000) -> tuple[Resolver, FakeTracker, FakeClaims]:
    tracker, claims = FakeTracker(), FakeClaims()
    return Resolver(tracker, claims, page_size=page_size), tracker, claims


def test_claims_win_and_cost_no_tracking_call():
    subject, tracker, claims = resolver()
    tracker.add_run(execution_id="e1", workflow_id=WF)  # newer, but the claim wins
    claimed = Lineage("c" * 32, "9")
    claims.claim(WF, "e1", claimed)
    assert subject.resolve([(WF, "e1")]).found == {(WF, "e1"): claimed}
    assert subject.resolve_one((WF, "e1")) == claimed
    assert tracker.calls == 0


def test_one_execution_is_asked_for_directly():
    subject, tracker, _ = resolver()
    run = tracker.add_run(execution_id="e1", workflow_id=WF)
    for n in range(50):
        tracker.add_run(execution_id=f"x{n}", workflow_id=WF)
    assert subject.resolve([(WF, "e1")]).found == {(WF, "e1"): run.lineage}
    assert tracker.calls == 2  # experiments + the execution's own search


def test_many_executions_cost_one_scan_page_not_a_call_each():
    subject, tracker, _ = resolver()
    runs = {f"e{n}": tracker.add_run(execution_id=f"e{n}", workflow_id=WF) for n in range(40)}
    found = subject.resolve([(WF, e) for e in runs]).found
    assert found == {(WF, e): r.lineage for e, r in runs.items()}
    assert tracker.calls == 2  # experiments + one page holding every run


@pytest.mark.parametrize("executions, runs, page_size, calls", [
    # 5 executions with no run among 20 others, 1 run a page: the scan reads pages while
    # the executions still wanted outnumber the pages read + 1 (4 pages), then asks each.
    (5, 20, 1, 1 + 4 + 5),
    # 30 wanted, pages of 10: the scan reads both pages to the end and asks no one.
    (30, 20, 10, 1 + 2 + 0),
    # 1 wanted: asking for it costs no more than a scan, so no page is read.
    (1, 20, 1, 1 + 0 + 1),
])
def test_scan_then_per_execution(executions, runs, page_size, calls):
    subject, tracker, _ = resolver(page_size)
    for n in range(runs):
        tracker.add_run(execution_id=f"other-{n}", workflow_id=WF)
    resolution = subject.resolve([(WF, f"missing-{n}") for n in range(executions)])
    assert resolution.found == {} and resolution.error is None
    assert tracker.calls == calls


@pytest.mark.parametrize("page_size", [1, 3, 10])
@pytest.mark.parametrize("runs", [0, 4, 25])
@pytest.mark.parametrize("executions", [1, 2, 6, 15])
def test_never_worse_than_twice_the_cheaper_plan(executions, runs, page_size):
    """Scanning every page or asking per execution: the mix costs at most twice the cheaper."""
    subject, tracker, _ = resolver(page_size)
    for n in range(runs):  # every other run belongs to a wanted execution
        tracker.add_run(execution_id=f"e{n // 2}" if n % 2 else f"other-{n}", workflow_id=WF)
    subject.resolve([(WF, f"e{n}") for n in range(executions)])
    pages = max(1, math.ceil(runs / page_size))
    assert tracker.calls <= 2 * min(1 + pages, 1 + executions)


def test_scan_stops_at_the_end_of_the_runs():
    subject, tracker, _ = resolver(page_size=10)
    for n in range(20):
        tracker.add_run(execution_id=f"e{n}", workflow_id=WF)
    keys = [(WF, f"e{n}") for n in range(20)] + [(WF, f"none-{n}") for n in range(5)]
    found = subject.resolve(keys).found
    assert len(found) == 20 and tracker.calls == 1 + 2  # no per-execution call after it


def test_the_newest_match_wins_by_scan_and_by_direct_lookup():
    subject, tracker, _ = resolver(page_size=1)
    old = tracker.add_run("1", start_time=1, execution_id="e", workflow_id=WF)
    new = tracker.add_run("2", start_time=3, execution_id="e")
    tracker.add_run("1", start_time=5, execution_id="e", workflow_id="other")
    for n in range(5):  # enough wanted executions to make it scan past e's runs
        tracker.add_run(start_time=0, execution_id=f"f{n}", workflow_id=WF)
    keys = [(WF, "e")] + [(WF, f"f{n}") for n in range(5)]
    assert subject.resolve(keys).found[(WF, "e")] == new.lineage != old.lineage
    assert subject.resolve_one((WF, "e")) == new.lineage


def test_a_failing_tracker_keeps_what_claims_found():
    subject, tracker, claims = resolver()
    claimed = claims.claim(WF, "e1", Lineage("c" * 32, "1"))
    tracker.down = True
    resolution = subject.resolve([(WF, "e1"), (WF, "e2")])
    assert resolution.found == {(WF, "e1"): claimed}
    assert resolution.error == "fake tracker is down"
    with pytest.raises(TrackingUnavailable):
        subject.resolve_one((WF, "e2"))


def test_a_refused_search_is_reported_not_raised():
    subject, tracker, _ = resolver()
    tracker.add_run(execution_id="e1")

    def refuse(*args, **kwargs):
        raise ValueError("bad filter\nsecond line")
    tracker.run_pages = refuse
    resolution = subject.resolve([(WF, "e1")])
    assert resolution.error == "MLflow search failed: bad filter"


def test_progress_counts_executions():
    subject, tracker, _ = resolver()
    for n in range(3):
        tracker.add_run(execution_id=f"e{n}")
    seen = []
    subject.resolve([(WF, f"e{n}") for n in range(3)], lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3, 3)


def test_no_experiments_means_no_search():
    subject, tracker, _ = resolver()
    assert subject.resolve([(WF, "e1")]).found == {}
    assert tracker.calls == 1  # experiments only
