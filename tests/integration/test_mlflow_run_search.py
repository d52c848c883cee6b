"""Run searches by id against a real `mlflow server`: its JSON answer read straight into
TrackedRuns must say what MLflow's own client says of the same runs."""
from __future__ import annotations

import pytest

from provenant.adapters.mlflow_tracker import MlflowTracker, _tracked
from provenant.adapters.tracking import WORKFLOW_TAG, TrackingUnavailable
from provenant.testing.mlflow_server import free_port

pytestmark = pytest.mark.mlflow_server


def test_runs_by_id_answers_as_the_mlflow_client_does(mlflow_server):
    tracker = MlflowTracker(mlflow_server.url)
    runs = [tracker.create_run("run-search-json", {WORKFLOW_TAG: "wf", "empty": ""}, name)
            for name in ("running", "finished", "failed", "deleted")]
    tracker.set_status(runs[1].run_id, "FINISHED")
    tracker.set_status(runs[2].run_id, "FAILED")
    tracker.delete_run(runs[3].run_id)
    ids = [r.run_id for r in runs] + ["0" * 32, "not a run id"]

    found = tracker.runs_by_id(ids)

    assert found == {r.run_id: _tracked(tracker.client.get_run(r.run_id)) for r in runs[:3]}
    assert [found[r.run_id].status for r in runs[:3]] == ["RUNNING", "FINISHED", "FAILED"]
    assert found[runs[0].run_id].tags["empty"] == ""


def test_runs_by_id_from_a_server_that_is_down_is_an_outage(mlflow_server):
    tracker = MlflowTracker(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TrackingUnavailable, match="connection was refused"):
        tracker.runs_by_id(["a" * 32], ["0"])
