"""A real workflow run records its decision chain and a run manifest; verify catches tampering."""
from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import delete, update

from provenant import runtime
from provenant.adapters.mlflow_tracker import WORKFLOW_TAG, MlflowTracker
from provenant.domain.provenance import RUN_MANIFEST_PATH, RUN_MANIFEST_TAG, content_hash
from provenant.store.tables import artifacts
from provenant.workflows import run_workflow
from tests.support.cli import cli

WF = "ibkr_trading_signal_workflow"


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite: the walk and edges run on PostgreSQL too, in test_provenance."""
    return f"sqlite:///{tmp_path / 'provenant.db'}"


@pytest.fixture
def executed(services, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a SQLite MLflow store keeps run files under ./mlruns
    result = run_workflow(WF, "TSLA", "chain-verify-1", services=services)
    stored = {a.type.value + (f"_{a.payload['chart_type']}" if a.type == "chart" else ""): a
              for a in services.artifacts.by_execution("chain-verify-1")}
    return result, stored


def test_the_workflow_records_its_chain_and_manifest(services, executed):
    result, stored = executed
    edges = {(e.artifact_id, e.input_id)
             for e in services.artifacts.edges([a.id for a in stored.values()], "up")}
    expected = {(stored["llm"].id, stored["chart_daily"].id),
                (stored["llm"].id, stored["chart_weekly"].id),
                (stored["signal"].id, stored["llm"].id)}
    if "order" in stored:  # a HOLD signal places no order
        expected.add((stored["order"].id, stored["signal"].id))
    assert edges == expected

    run = MlflowClient(services.settings.mlflow_tracking_uri).get_run(result.run_id)
    manifest = services.tracker.run_file(result.run_id, RUN_MANIFEST_PATH)
    assert run.data.tags[RUN_MANIFEST_TAG] and manifest is not None
    entries = {e["id"]: e for e in json.loads(manifest)["artifacts"]}
    assert set(entries) == {a.id for a in stored.values()}
    assert entries[stored["signal"].id]["inputs"] == [stored["llm"].id]
    assert all(entries[a.id]["content_sha256"] == a.content_sha256 for a in stored.values())
    report = runtime.verify(services)
    assert report.ok, report.mismatches


def test_verify_names_each_tampered_artifact_and_the_check_that_caught_it(services, executed):
    _, stored = executed
    signal, llm, weekly = stored["signal"], stored["llm"], stored["chart_weekly"]
    forged = {**llm.payload, "response": "SELL everything"}
    with services.engine.begin() as conn:
        conn.execute(update(artifacts).where(artifacts.c.id == signal.id)
                     .values(payload={**signal.payload, "confidence": 0.99}))
        # A careful forger recomputes the row's hash too: the run's manifest still knows.
        conn.execute(update(artifacts).where(artifacts.c.id == llm.id).values(
            payload=forged, content_sha256=content_hash("llm", llm.name, llm.symbol, forged,
                                                        None)))
        conn.execute(delete(artifacts).where(artifacts.c.id == stored["chart_daily"].id))
    blob = next((services.settings.home / "blobs").rglob(f"{weekly.image_sha256}.*"))
    blob.write_bytes(b"not the chart any more")

    found = {(m.artifact_id, m.check, m.problem) for m in runtime.verify(services).mismatches}
    run_id = signal.run_id
    assert (signal.id, "content", "stored content no longer matches its content_sha256") in found
    assert (llm.id, "manifest", f"content_sha256 differs from run {run_id}'s manifest") in found
    assert (weekly.id, "content", "image bytes no longer match their sha256") in found
    assert (llm.id, "chain", f"input artifact {stored['chart_daily'].id} is missing: the "
                             "decision chain has a broken link") in found
    assert (stored["chart_daily"].id, "manifest",
            f"listed in run {run_id}'s manifest but not stored") in found
    assert {m[0] for m in found} == {signal.id, llm.id, weekly.id, stored["chart_daily"].id}

    done = cli(services, "lineage", "verify")
    assert done.returncode == 1, done.stderr
    assert f"artifact {signal.id} -> run {run_id} (content check): stored content" in done.stderr
    assert "found by the chain, content, manifest check(s)" in done.stderr


@pytest.mark.mlflow_server
def test_run_manifests_come_from_a_tracking_server_one_request_per_run(mlflow_server):
    tracker = MlflowTracker(mlflow_server.url)
    logged, bare = (tracker.create_run("chain-verify-files", {WORKFLOW_TAG: WF}, name)
                    for name in ("logged", "bare"))
    tracker.log_run(logged.run_id, params={}, metrics={}, tags={},
                    files={RUN_MANIFEST_PATH: b'{"artifacts": []}'})
    runs = tracker.runs_by_id([logged.run_id, bare.run_id])
    assert all(r.artifact_uri.startswith("mlflow-artifacts:") for r in runs.values())
    before = tracker.calls
    files = tracker.run_files(list(runs.values()), RUN_MANIFEST_PATH)
    assert files == {logged.run_id: b'{"artifacts": []}', bare.run_id: None}
    assert tracker.calls - before == 2
