"""The run context's status rules, on the in-memory tracker: what an Airflow task sees."""
from __future__ import annotations

import pytest

from provenant.lineage.context import RunOpener, run_context
from tests.support.fakes import FakeClaims, FakeTracker

WF = "ibkr_trading_signal_workflow"


@pytest.fixture
def opener() -> RunOpener:
    return RunOpener(FakeTracker(), FakeClaims())


def status(opener: RunOpener, run_id: str) -> str:
    return opener.tracker.runs[run_id].status


def test_a_middle_step_leaves_its_run_running_for_the_next_one(opener):
    with run_context(opener, WF, "e1", end_run=False) as run:
        assert status(opener, run.run_id) == "RUNNING"
    assert status(opener, run.run_id) == "RUNNING"


def test_rerunning_a_middle_step_of_a_finished_execution_ends_it_finished_again(opener):
    with run_context(opener, WF, "e1") as run:
        pass
    with run_context(opener, WF, "e1", run_id=run.run_id, end_run=False) as again:
        assert again.run_id == run.run_id and status(opener, run.run_id) == "RUNNING"
    assert status(opener, run.run_id) == "FINISHED"


def test_a_failed_rerun_of_a_finished_execution_marks_it_failed(opener):
    with run_context(opener, WF, "e1") as run:
        pass
    with pytest.raises(RuntimeError):
        with run_context(opener, WF, "e1", end_run=False):
            raise RuntimeError("step failed")
    assert status(opener, run.run_id) == "FAILED"


def test_a_retried_middle_step_of_a_failed_execution_leaves_it_running(opener):
    with pytest.raises(RuntimeError):
        with run_context(opener, WF, "e1", end_run=False) as run:
            raise RuntimeError("first try failed")
    assert status(opener, run.run_id) == "FAILED"
    with run_context(opener, WF, "e1", run_id=run.run_id, end_run=False):
        pass
    assert status(opener, run.run_id) == "RUNNING"  # the steps after it are still to come
    with run_context(opener, WF, "e1", run_id=run.run_id):
        pass
    assert status(opener, run.run_id) == "FINISHED"
