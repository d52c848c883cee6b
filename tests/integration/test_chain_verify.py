"""A real workflow run records its decision chain (down to the market data windows) and a run
manifest; verify catches tampering (SQLite and PostgreSQL: JSONB must give back the hashed
payload)."""
from __future__ import annotations

import json
import zipfile

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import delete, update

from provenant import runtime
from provenant.adapters.mlflow_tracker import WORKFLOW_TAG, MlflowTracker
from provenant.domain.errors import Sealed
from provenant.domain.provenance import RUN_MANIFEST_PATH, RUN_MANIFEST_TAG, content_hash
from provenant.service.patching import patch_artifact
from provenant.store.tables import artifacts
from provenant.workflows import run_workflow
from tests.support.cli import cli

WF = "ibkr_trading_signal_workflow"


@pytest.fixture
def executed(services, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a SQLite MLflow store keeps run files under ./mlruns
    result = run_workflow(WF, "TSLA", "chain-verify-1", services=services)
    stored = {a.type.value + "".join(f"_{a.payload[k]}" for k in ("chart_type", "timeframe")
                                     if k in a.payload): a
              for a in services.artifacts.by_execution("chain-verify-1")}
    return result, stored


def test_the_workflow_records_its_chain_and_manifest(services, executed):
    result, stored = executed
    edges = {(e.artifact_id, e.input_id)
             for e in services.artifacts.edges([a.id for a in stored.values()], "up")}
    expected = {(stored["chart_daily"].id, stored["market_data_daily"].id),
                (stored["chart_weekly"].id, stored["market_data_weekly"].id),
                (stored["llm"].id, stored["chart_daily"].id),
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
    assert entries[stored["chart_weekly"].id]["inputs"] == [stored["market_data_weekly"].id]
    assert entries[stored["market_data_daily"].id]["type"] == "market_data"
    assert all(entries[a.id]["content_sha256"] == a.content_sha256 for a in stored.values())
    report = runtime.verify(services)
    assert report.ok, report.mismatches


def test_the_chain_ends_in_the_market_data_windows_and_the_bundle_holds_them(services,
                                                                            executed, tmp_path):
    _, stored = executed
    top = stored.get("order") or stored["signal"]  # a HOLD signal places no order
    windows = {stored["market_data_daily"].id, stored["market_data_weekly"].id}
    chain = runtime.provenance(services, top.id)
    assert [n.type for n in chain.nodes][-2:] == ["market_data", "market_data"]
    assert {n.id for n in chain.nodes if n.type == "market_data"} == windows
    assert {n.verification for n in chain.nodes} == {"verified"}

    bundle = tmp_path / "bundle.zip"
    runtime.export_evidence(services, top.id, bundle)
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
        daily = json.loads(z.read(f"artifacts/{stored['market_data_daily'].id}.json"))
    assert windows <= {a["id"] for a in manifest["artifacts"]}
    assert daily["payload"]["bars"] == stored["market_data_daily"].payload["bars"]
    assert daily["content_sha256"] == stored["market_data_daily"].content_sha256
    checked = cli(services, "evidence", "verify", str(bundle))
    assert checked.returncode == 0, checked.stderr


def test_verify_names_each_tampered_artifact_and_the_check_that_caught_it(services, executed):
    _, stored = executed
    signal, llm, weekly = stored["signal"], stored["llm"], stored["chart_weekly"]
    window = stored["market_data_weekly"]
    forged = {**llm.payload, "response": "SELL everything"}
    bars = [dict(b) for b in window.payload["bars"]]
    bars[-1]["close"] *= 1.01  # one bar of the window a chart was drawn from, nudged
    with services.engine.begin() as conn:
        conn.execute(update(artifacts).where(artifacts.c.id == signal.id)
                     .values(payload={**signal.payload, "confidence": 0.99}))
        # A careful forger recomputes the row's hash too: the run's manifest still knows.
        conn.execute(update(artifacts).where(artifacts.c.id == llm.id).values(
            payload=forged, content_sha256=content_hash("llm", llm.name, llm.symbol, forged,
                                                        None)))
        conn.execute(update(artifacts).where(artifacts.c.id == window.id)
                     .values(payload={**window.payload, "bars": bars}))
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
    assert (window.id, "content", "stored content no longer matches its content_sha256") in found
    assert {m[0] for m in found} == {signal.id, llm.id, weekly.id, window.id,
                                     stored["chart_daily"].id}

    done = cli(services, "lineage", "verify")
    assert done.returncode == 1, done.stderr
    assert f"artifact {signal.id} -> run {run_id} (content check): stored content" in done.stderr
    assert "found by the chain, content, manifest check(s)" in done.stderr


def test_the_logged_artifacts_are_sealed_against_payload_changes(services, executed):
    result, stored = executed
    llm = stored["llm"]
    assert {a.sealed_by_run for a in stored.values()} == {result.run_id}
    with pytest.raises(Sealed, match=f"artifact {llm.id} is sealed by run {result.run_id}'s"):
        patch_artifact(services.artifacts, services.tracker, llm.id, {"response": "SELL"})
    assert services.artifacts.get(llm.id) == llm and services.artifacts.revisions([llm.id]) == {}
    assert runtime.verify(services).ok


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
