"""Run searches by id against a real `mlflow server`: its JSON answer read straight into
TrackedRuns must say what MLflow's own client says of the same runs."""
from __future__ import annotations

import pytest

from provenant.adapters.mlflow_tracker import MlflowTracker, _tracked
from provenant.adapters.tracking import EXECUTION_TAG, WORKFLOW_TAG, RunQuery, TrackingUnavailable
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


def test_run_pages_come_newest_first_as_the_mlflow_client_answers(mlflow_server):
    tracker = MlflowTracker(mlflow_server.url)
    made = [tracker.create_run("run-pages-json", {EXECUTION_TAG: f"e{n}"}, f"run {n}")
            for n in range(5)]
    untagged = tracker.create_run("run-pages-json", {WORKFLOW_TAG: "wf"}, "no execution")
    experiment = [made[0].experiment_id]

    pages = list(tracker.run_pages(RunQuery(has_tag=EXECUTION_TAG), experiment, page_size=2))

    assert max(len(p) for p in pages) <= 2  # the untagged run is filtered out here
    runs = [r for page in pages for r in page]
    client = [_tracked(r) for r in tracker.client.search_runs(
        experiment, "", order_by=["attributes.start_time DESC"]) if EXECUTION_TAG in r.data.tags]
    assert runs == client and {r.run_id for r in runs} == {r.run_id for r in made}
    assert [r.start_time for r in runs] == sorted((r.start_time for r in runs), reverse=True)
    assert untagged.run_id not in {r.run_id for r in runs}
