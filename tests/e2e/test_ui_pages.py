"""The UI's pages over HTTP (no browser): bad input, lineage filters, words instead of nulls."""
from __future__ import annotations

import math
import re

import pytest
from fastapi.testclient import TestClient

from provenant.http.app import create_app
from provenant.artifacts import store_signal_artifact
from provenant.domain.artifacts import NewArtifact
from provenant.lineage import mlflow_run_context
from provenant.http.web.format import MISSING, show, show_latency, show_percent
from tests.support.browser import NULL_WORDS

WF = "ibkr_trading_signal_workflow"


@pytest.fixture
def client(services):
    with TestClient(create_app(services)) as test_client:
        yield test_client


def names_listed(html: str) -> list[str]:
    return re.findall(r'data-drawer data-artifact-id="\d+">([^<]*)</a>', html)


def test_bad_list_input_is_a_clear_4xx(client):
    for query, message in [("type=colour", "unknown artifact type"),
                           ("lineage=lost", "unknown lineage state"),
                           ("group=symbol", "unknown grouping"),
                           ("limit=0", "limit must be"), ("limit=x", "limit must be"),
                           ("cursor=not-a-cursor", "invalid cursor")]:
        response = client.get(f"/artifacts?{query}")
        assert response.status_code == 400, query
        assert message in response.text
    missing = client.get("/artifacts/987654")
    assert missing.status_code == 404 and "Artifact 987654 does not exist." in missing.text
    assert client.get("/artifacts/987654/drawer").status_code == 404
    assert client.get("/artifacts/not-a-number").status_code == 422
    assert client.get("/", follow_redirects=False).headers["location"] == "/artifacts"


def test_list_filters_by_stored_lineage_state(services, client):
    with mlflow_run_context(WF, "exec-captured", services=services) as run:
        store_signal_artifact(name="captured", symbol="TSLA", action="BUY", confidence=0.6,
                              services=services)
    repaired, pending = services.artifacts.add_many([
        NewArtifact(type="signal", name=name, symbol="TSLA", workflow_id=WF,
                    execution_id=f"legacy-{name}", payload={"action": "HOLD", "confidence": 0.5})
        for name in ("repaired", "pending")])
    services.artifacts.set_lineage([(repaired.id, run.lineage)], "repair")

    for state in ("persisted", "repaired", "pending"):
        assert names_listed(client.get(f"/artifacts?lineage={state}").text) == [
            {"persisted": "captured"}.get(state, state)]
    assert names_listed(client.get("/artifacts?symbol=TSLA&limit=2").text) == [
        "pending", "repaired"]


def test_drawer_never_shows_null_words(services, client):
    broken = services.artifacts.add(NewArtifact(
        type="llm", name="legacy analysis", run_id="not-a-run-id", experiment_id="0",
        payload={"prompt": "", "response": "fine", "model_name": "m", "provider": None,
                 "latency_ms": None, "notes": [None, {"inner": None}]}))
    no_execution = services.artifacts.add(NewArtifact(
        type="order", name="manual order", payload={"side": "SELL", "quantity": 1,
                                                    "order_type": "MKT"}))
    broken_page = client.get(f"/artifacts/{broken.id}").text
    assert "not a valid MLflow id" in broken_page
    assert 'data-testid="open-in-mlflow" disabled' in broken_page
    orphan_page = client.get(f"/artifacts/{no_execution.id}/drawer").text
    assert "names no workflow execution" in orphan_page
    for html in (broken_page, orphan_page):
        assert NULL_WORDS.findall(html) == []


def test_values_read_as_words():
    assert [show(v) for v in (None, "", math.nan, math.inf)] == [MISSING] * 4
    assert show({"a": None, "b": [1.5, None]}) == f"A: {MISSING}; B: 1.5, {MISSING}"
    assert (show(True), show(1234), show(241.456), show(0.012345)) == ("yes", "1,234", "241.46",
                                                                        "0.01235")
    assert (show_percent(0.724), show_percent("x")) == ("72%", MISSING)
    assert (show_latency(12.4), show_latency(2500), show_latency(None)) == ("12 ms", "2.50 s",
                                                                            MISSING)
