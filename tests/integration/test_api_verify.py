"""`GET /api/lineage/verify`: the CLI's verify report over HTTP (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient
from sqlalchemy import update

from provenant.domain.provenance import RUN_MANIFEST_PATH
from provenant.workflows import run_workflow

from provenant.store.tables import artifacts
from tests.support.api import AUTH, WF
from tests.support.chain import store_chain
from tests.support.cli import cli
from tests.support.mlflow_server import free_port


def test_verify_names_a_tampered_payload_as_the_cli_does(api):
    services = api.app.state.services
    chain = store_chain(services)
    clean = api.get("/api/lineage/verify")
    assert clean.status_code == 200, clean.text
    assert clean.json()["mismatches"] == [] and clean.json()["checked"] == 5

    signal = chain["signal"]
    with services.engine.begin() as conn:  # edited behind Provenant's back
        conn.execute(update(artifacts).where(artifacts.c.id == signal.id)
                     .values(payload={**signal.payload, "confidence": 0.99}))
    answer = api.get("/api/lineage/verify")  # a read: open without the write token
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["mismatches"] == [{
        "artifact_id": signal.id, "run_id": signal.run_id, "experiment_id": signal.experiment_id,
        "problem": "stored content no longer matches its content_sha256", "check": "content"}]
    assert report["errors"] == [] and report["runs"] == 1
    assert api.get("/api/lineage/verify", headers=AUTH).json()["mismatches"] == report[
        "mismatches"]

    done = cli(services, "lineage", "verify", "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout) == report  # the same report model, field for field


def test_verify_without_mlflow_is_a_503_with_the_reason(api_settings, start_api,
                                                        short_mlflow_retries):
    tracking = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    answer = start_api(api_settings(mlflow_tracking_uri=tracking)).get("/api/lineage/verify")
    assert answer.status_code == 503
    assert answer.json()["errors"] == [
        f"MLflow tracking at {tracking}: the connection was refused or dropped"]


def test_verify_is_documented_with_its_report_model(api):
    operation = api.get("/openapi.json").json()["paths"]["/api/lineage/verify"]["get"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/VerifyReport"}
    assert "503" in operation["responses"] and "lineage verify" in operation["description"]


def test_deep_reads_every_manifest_file_the_default_trusts_to_its_inline_tag(
        api, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a SQLite MLflow store keeps run files under ./mlruns
    services = api.app.state.services
    result = run_workflow(WF, "TSLA", "api-verify-deep", services=services)
    run = MlflowClient(services.settings.mlflow_tracking_uri).get_run(result.run_id)
    root = run.info.artifact_uri.removeprefix("file://")
    (Path(root) / RUN_MANIFEST_PATH).write_bytes(b'{"artifacts": []}')  # its tag left alone

    assert api.get("/api/lineage/verify").json()["mismatches"] == []
    deep = api.get("/api/lineage/verify", params={"deep": "true"})
    assert deep.status_code == 200, deep.text
    assert {m["problem"] for m in deep.json()["mismatches"]} == {
        f"run {result.run_id}'s {RUN_MANIFEST_PATH} does not match the hash it recorded"}
    refused = api.get("/api/lineage/verify", params={"deep": "maybe"})
    assert refused.status_code == 422 and "deep" in refused.text
