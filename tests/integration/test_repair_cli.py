"""The QA case end to end: legacy artifact 24 imported, repaired by `provenant lineage repair`."""
from __future__ import annotations

import json

from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from tests.support.cli import cli
from tests.support.legacy_db import (
    QA_EXECUTION_ID, WORKFLOW, LegacyDb, chart_row, create_run, signal_row, sqlite_legacy_url)

NO_RUN_EXECUTION = "2025-11-16 09:00:00.000000+00:00"


def qa_legacy_db(tmp_path) -> str:
    url = sqlite_legacy_url(tmp_path / "legacy.db")
    LegacyDb(url).add(chart_row(24), signal_row(23), chart_row(31, NO_RUN_EXECUTION)).close()
    return url


def qa_runs(mlflow_uri: str):
    """The execution's run, an older run of it, and a newer run of another workflow."""
    client = MlflowClient(mlflow_uri)
    experiment = client.create_experiment("legacy-trading")
    older = create_run(client, experiment, QA_EXECUTION_ID, start_time=1_763_214_000_000)
    newest = create_run(client, experiment, QA_EXECUTION_ID, start_time=1_763_214_871_000)
    create_run(client, client.create_experiment("other"), QA_EXECUTION_ID,
               workflow_id="some_other_workflow", start_time=1_763_215_000_000)
    return newest, older


def test_qa_artifact_24_is_repaired_once_and_reported(services, mlflow_uri, tmp_path):
    run, _older = qa_runs(mlflow_uri)
    imported = cli(services, "artifacts", "import-legacy", "--from", qa_legacy_db(tmp_path),
                   "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == [23, 24, 31]

    first = cli(services, "lineage", "repair", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    expected = {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}
    assert {r["artifact_id"]: {k: r[k] for k in expected} for r in report["repaired"]} == {
        23: expected, 24: expected}
    assert report["unresolved"] == [31]
    assert report["scanned"] == 3 and report["errors"] == []
    assert report["tracking_calls"] <= 5
    logged = [json.loads(line) for line in first.stderr.splitlines() if "lineage_repaired" in line]
    assert {"event": "lineage_repaired", "artifact_id": 24, **expected,
            "source": "repair"} in logged

    audit = cli(services, "lineage", "repairs", "--artifact-id", "24", "--json")
    items = json.loads(audit.stdout)["items"]
    assert [(i["artifact_id"], i["run_id"], i["source"]) for i in items] == [
        (24, run.info.run_id, "repair")]

    second = cli(services, "lineage", "repair", "--json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["repaired"] == [] and again["unresolved"] == [31]
    assert len(services.artifacts.repairs(24)) == 1

    from provenant.http.app import create_app

    with TestClient(create_app(services)) as client:
        body = client.get("/api/artifacts/24").json()
    assert (body["run_id"], body["experiment_id"]) == (run.info.run_id, run.info.experiment_id)
    assert body["lineage"]["status"] == "repaired"
    assert body["execution_id"] == QA_EXECUTION_ID and body["workflow_id"] == WORKFLOW
    assert body["created_at"].startswith("2025-11-15")


def test_dry_run_writes_nothing_and_human_summary(services, mlflow_uri, tmp_path):
    run, _ = qa_runs(mlflow_uri)
    assert cli(services, "artifacts", "import-legacy", "--from",
               qa_legacy_db(tmp_path)).returncode == 0
    dry = cli(services, "lineage", "repair", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert sorted(r["artifact_id"] for r in json.loads(dry.stdout)["repaired"]) == [23, 24]
    assert services.artifacts.get(24).run_id is None
    assert services.artifacts.repairs() == []

    human = cli(services, "lineage", "repair")
    assert human.returncode == 0, human.stderr
    assert human.stdout == ""
    assert f"repaired artifact 24: run {run.info.run_id}" in human.stderr
    assert "no run found for artifacts 31" in human.stderr


def test_tracker_down_is_an_error_and_repairs_nothing(services, tmp_path):
    assert cli(services, "artifacts", "import-legacy", "--from",
               qa_legacy_db(tmp_path)).returncode == 0
    env_result = cli(services, "lineage", "repair", "--json",
                     # the discard port: nothing listens; no retries, so the test stays short
                     PROVENANT_MLFLOW_TRACKING_URI="http://127.0.0.1:9",
                     MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="5")
    assert env_result.returncode == 1
    report = json.loads(env_result.stdout)
    assert report["repaired"] == [] and report["errors"]
    assert "Traceback" not in env_result.stderr
    assert services.artifacts.get(24).run_id is None
    assert services.artifacts.repairs() == []
