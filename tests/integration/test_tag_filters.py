"""Execution ids of any shape resolve to the right run in a real MLflow store (the resolver
over the MLflow tracker: quoting, LIKE fallback and exact re-check)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from mlflow.tracking import MlflowClient

from provenant.adapters.mlflow_tracker import MlflowTracker
from provenant.lineage.resolve import Resolver
from tests.support.fakes import FakeClaims

AWKWARD = ["2025-11-15 13:54:31.981650+00:00", "manual__2026-11-25T10:00:00+00:00",
           "it's", 'say "hi"', "both ' and \"", "back\\slash", "trailing\\", "100%_done",
           "ünïcødé ✓", "a%", "_"]


@pytest.fixture
def tracker(mlflow_uri):
    client = MlflowClient(mlflow_uri)
    experiments = [client.create_experiment(name) for name in ("one", "two")]
    return Resolver(MlflowTracker(mlflow_uri), FakeClaims()), client, experiments


def _run(client, experiment_id, execution_id, workflow_id="wf"):
    tags = {"execution_id": execution_id}
    if workflow_id:
        tags["workflow_id"] = workflow_id
    return client.create_run(experiment_id, tags=tags).info.run_id


def test_awkward_execution_ids_resolve_exactly(tracker):
    trk, client, (one, two) = tracker
    expected = {}
    for i, execution_id in enumerate(AWKWARD):
        expected[execution_id] = _run(client, one if i % 2 else two, execution_id)
    for execution_id, run_id in expected.items():
        found = trk.resolve_one(("wf", execution_id))
        assert found is not None and found.run_id == run_id, execution_id


def test_matching_rules(tracker):
    trk, client, (one, two) = tracker
    _run(client, one, "x1", workflow_id="another_workflow")
    assert trk.resolve_one(("wf", "x1")) is None
    legacy = _run(client, two, "x2", workflow_id=None)
    assert trk.resolve_one(("wf", "x2")).run_id == legacy
    _run(client, one, "x3")
    newest = _run(client, two, "x3")
    assert trk.resolve_one(("wf", "x3")).run_id == newest


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_any_execution_id_round_trips(tracker, execution_id):
    trk, client, (one, _two) = tracker
    run_id = _run(client, one, execution_id)
    found = trk.resolve_one(("wf", execution_id))
    assert found is not None and found.run_id == run_id
