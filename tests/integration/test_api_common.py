"""Health, OpenAPI, metrics and auth of the API (SQLite, PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from provenant.http.app import create_app
from provenant.bootstrap import configure, reset_services
from tests.support.api import AUTH, TOKEN, png_bytes, signal_body

def test_health_reports_ok(api):
    answer = api.get("/api/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_health_reports_a_database_it_cannot_reach(api_settings, start_api, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the database folder should be")
    client = start_api(api_settings(database_url=f"sqlite:///{blocked}/db.sqlite"))
    answer = client.get("/api/health")
    assert answer.status_code == 503
    assert answer.json()["status"] == "degraded"


def test_openapi_docs_and_schema(api):
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/health", "/api/artifacts", "/api/artifacts/{artifact_id}",
                 "/api/artifacts/{artifact_id}/image", "/api/lineage/repairs",
                 "/api/executions/{execution_id}"):
        assert path in paths


def test_metrics_expose_hydrations_repairs_and_tracking(api):
    created = api.post("/api/artifacts", json=signal_body(), headers=AUTH).json()
    api.get(f"/api/artifacts/{created['id']}")  # a lookup that finds no run yet
    text = api.get("/metrics").text
    assert 'provenant_hydrations_total{outcome="pending"}' in text
    assert "provenant_tracking_lookup_seconds_count" in text
    assert "provenant_tracking_calls_total" in text
    assert "provenant_tracking_failures_total" in text
    assert "provenant_lineage_repairs" in text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_every_write_needs_the_token(api, headers):
    created = api.post("/api/artifacts", json=signal_body(type="chart", name="c",
                                                          payload={"chart_type": "daily"}),
                       headers=AUTH).json()
    answers = [api.post("/api/artifacts", json=signal_body(), headers=headers),
               api.put(f"/api/artifacts/{created['id']}/image", content=png_bytes(),
                       headers=headers)]
    for answer in answers:
        assert answer.status_code == 401
        assert "token" in answer.json()["detail"]
        assert TOKEN not in answer.text
    assert api.get("/api/artifacts").json()["items"][0]["has_image"] is False
    assert len(api.get("/api/artifacts").json()["items"]) == 1


def test_without_a_configured_token_writes_are_open(api_settings, start_api):
    client = start_api(api_settings(api_token=None))
    assert client.post("/api/artifacts", json=signal_body()).status_code == 201


def _repair_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "provenant-repair"]


def test_scheduled_repair_starts_and_stops_with_the_app(api_settings):
    app = create_app(configure(api_settings(repair_interval_seconds=3600)))
    try:
        with TestClient(app) as client:
            assert client.get("/api/health").status_code == 200
            assert len(_repair_threads()) == 1
        assert _repair_threads() == []
    finally:
        reset_services()
