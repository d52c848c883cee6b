"""Storing under one idempotency key twice (a retried task): one row, or a clear conflict."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from provenant.artifacts import ArtifactConflict, store_chart_artifact, store_signal_artifact
from provenant.lineage import mlflow_run_context
from provenant.store.tables import artifacts
from provenant.workflows import execute_step, start_inputs
from tests.support.api import AUTH, WF, png_bytes, signal_body

EXECUTION = "manual__2026-11-27T09:30:00+00:00"


def _rows(services) -> int:
    with services.artifacts.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(artifacts))


def _signal(services, **overrides):
    values = {"name": "TSLA signal", "symbol": "TSLA", "action": "BUY", "confidence": 0.72,
              "step_name": "generate_signal", "services": services, **overrides}
    return store_signal_artifact(**values)


def test_the_same_content_twice_is_one_row_in_one_run(services):
    with mlflow_run_context(WF, EXECUTION, services=services) as first_try:
        first = _signal(services)
        chart = store_chart_artifact(name="TSLA daily chart", symbol="TSLA", image=png_bytes(),
                                     chart_type="daily", step_name="generate_daily_chart",
                                     services=services)
    # The retry: another process, same execution, the same step stores the same things.
    with mlflow_run_context(WF, EXECUTION, services=services) as retry:
        again = _signal(services)
        chart_again = store_chart_artifact(name="TSLA daily chart", symbol="TSLA",
                                           image=png_bytes(), chart_type="daily",
                                           step_name="generate_daily_chart", services=services)

    assert retry.run_id == first_try.run_id
    assert (again.id, chart_again.id) == (first.id, chart.id)
    assert again.run_id == first.run_id == first_try.run_id
    assert _rows(services) == 2


def test_a_different_content_is_a_logged_conflict_and_writes_nothing(services, caplog):
    with mlflow_run_context(WF, EXECUTION, services=services):
        stored = _signal(services)
        store_chart_artifact(name="TSLA daily chart", symbol="TSLA", image=png_bytes(),
                             chart_type="daily", step_name="generate_daily_chart",
                             services=services)
        with caplog.at_level(logging.WARNING, logger="provenant.store"):
            with pytest.raises(ArtifactConflict, match=rf"artifact {stored.id} .* payload"):
                _signal(services, action="SELL")
        with pytest.raises(ArtifactConflict, match="image"):
            store_chart_artifact(name="TSLA daily chart", symbol="TSLA",
                                 image=png_bytes((0, 0, 255)), chart_type="daily",
                                 step_name="generate_daily_chart", services=services)

    assert _rows(services) == 2
    assert services.artifacts.get(stored.id).payload["action"] == "BUY"
    logged = [json.loads(r.getMessage()) for r in caplog.records
              if r.name == "provenant.store"]
    assert len(logged) == 2  # one line per refused store
    assert logged[0] == {
        "event": "artifact_conflict", "workflow_id": WF, "execution_id": EXECUTION,
        "step_name": "generate_signal", "name": "TSLA signal",
        "stored_artifact_id": stored.id, "stored_run_id": stored.run_id,
        "run_id": stored.run_id, "differs": ["payload"]}
    assert logged[1]["differs"] == ["image"]


def test_rows_without_a_full_key_are_not_deduplicated(services):
    # No step name: an ad-hoc store, which has no key to be retried under.
    one = _signal(services, step_name=None, workflow_id=WF, execution_id=EXECUTION)
    two = _signal(services, step_name=None, workflow_id=WF, execution_id=EXECUTION)
    assert one.id != two.id
    assert _rows(services) == 2


def test_a_retried_workflow_step_stores_nothing_new_and_keeps_the_run(services):
    state = start_inputs(WF, "TSLA", settings=services.settings)
    state = execute_step(WF, "fetch_market_data", EXECUTION, state, services=services)
    charted = execute_step(WF, "generate_daily_chart", EXECUTION, state, services=services)
    # The task ran, stored its chart, then its worker died before Airflow heard: retry.
    retried = execute_step(WF, "generate_daily_chart", EXECUTION, state, services=services)

    assert retried["run_id"] == charted["run_id"] == state["run_id"]
    assert retried["daily_chart"]["artifact_id"] == charted["daily_chart"]["artifact_id"]
    assert [a.name for a in services.artifacts.by_execution(EXECUTION)] == [
        "TSLA daily market data", "TSLA daily chart"]
    client = services.tracker.client
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(experiments)) == 1


def test_the_api_answers_409_for_a_conflicting_post(api):
    body = signal_body()
    first = api.post("/api/artifacts", json=body, headers=AUTH)
    same = api.post("/api/artifacts", json=body, headers=AUTH)
    other = api.post("/api/artifacts", json={**body, "payload": {"action": "SELL",
                                                                  "confidence": 0.72}},
                     headers=AUTH)

    assert first.status_code == 201 and same.status_code in (200, 201)
    assert same.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert f"artifact {first.json()['id']} already holds 'TSLA signal'" in other.json()["detail"]
    listed = api.get("/api/artifacts", params={"execution_id": body["execution_id"]}).json()
    assert [item["id"] for item in listed["items"]] == [first.json()["id"]]
