"""PATCH and tamper evidence (SQLite and PostgreSQL): a payload PATCH re-hashes the artifact and
records a revision that `lineage verify` and evidence bundles accept; a direct edit is still
named; an artifact its run's manifest lists is sealed (409, nothing written)."""
from __future__ import annotations

import json
import zipfile

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from provenant import runtime
from provenant.domain.errors import Sealed
from provenant.domain.provenance import (
    RUN_MANIFEST_PATH, RUN_MANIFEST_TAG, content_hash, run_manifest, sha256_hex)
from provenant.service.evidence import verify_bundle
from provenant.store.tables import artifact_revisions, artifacts
from tests.support.api import AUTH, WF, log_run
from tests.support.cli import cli

EXECUTION = "2025-11-15 13:54:31.981650+00:00"
LLM_CONTEXT = {"prompt": "Analyze TSLA", "response": "Bullish.", "model_name": "gpt-4o"}


def store_chart(api, name: str = "TSLA Daily Chart", **extra) -> dict:
    """A chart as the old DAG stores it: flat body, before its LLM context exists."""
    answer = api.post("/api/artifacts/", headers=AUTH, json={
        "name": name, "type": "chart", "symbol": "TSLA", "workflow_id": WF,
        "execution_id": EXECUTION, "step_name": "generate_daily_chart", "chart_type": "daily",
        **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def patch(api, artifact_id: int, body: dict):
    return api.patch(f"/api/artifacts/{artifact_id}", headers=AUTH, json=body)


def test_a_patch_rehashes_records_a_revision_and_verify_stays_clean(api):
    services = api.app.state.services
    chart = store_chart(api)
    before = services.artifacts.get(chart["id"])

    assert patch(api, chart["id"], LLM_CONTEXT).status_code == 200
    after = services.artifacts.get(chart["id"])
    assert after.content_sha256 == content_hash("chart", after.name, "TSLA", after.payload, None)
    assert after.content_sha256 != before.content_sha256
    [revision] = services.artifacts.revisions([chart["id"]])[chart["id"]]
    assert (revision.old_sha256, revision.new_sha256, revision.changed, revision.source) == (
        before.content_sha256, after.content_sha256, ["model_name", "prompt", "response"],
        "patch")
    assert patch(api, chart["id"], LLM_CONTEXT).status_code == 200  # the same again: no change
    assert len(services.artifacts.revisions([chart["id"]])[chart["id"]]) == 1

    report = runtime.verify(services)
    assert report.ok and report.revised == 1, report
    provenance = api.get(f"/api/artifacts/{chart['id']}/provenance").json()
    assert provenance["nodes"][0]["verification"] == "verified"


def test_a_direct_edit_after_a_patch_is_still_named(api):
    services = api.app.state.services
    chart = store_chart(api)
    assert patch(api, chart["id"], LLM_CONTEXT).status_code == 200
    stored = services.artifacts.get(chart["id"])

    forged = {**stored.payload, "response": "Sell everything."}
    with services.engine.begin() as conn:  # payload only: the hash no longer matches
        conn.execute(update(artifacts).where(artifacts.c.id == chart["id"])
                     .values(payload=forged))
    [found] = runtime.verify(services).mismatches
    assert (found.artifact_id, found.check) == (chart["id"], "content")

    with services.engine.begin() as conn:  # a careful forger recomputes the hash too
        conn.execute(update(artifacts).where(artifacts.c.id == chart["id"]).values(
            content_sha256=content_hash("chart", stored.name, "TSLA", forged, None)))
    [found] = runtime.verify(services).mismatches
    assert (found.artifact_id, found.check) == (chart["id"], "revision")
    assert "changed outside Provenant" in found.problem
    done = cli(services, "lineage", "verify")
    assert done.returncode == 1
    assert f"artifact {chart['id']} (revision check): content_sha256 is not" in done.stderr


def test_revisions_are_append_only(api):
    services = api.app.state.services
    chart = store_chart(api)
    assert patch(api, chart["id"], LLM_CONTEXT).status_code == 200
    for statement in (update(artifact_revisions).values(new_sha256="0" * 64),
                      delete(artifact_revisions)):
        with pytest.raises(DBAPIError, match="append-only"):
            with services.engine.begin() as conn:
                conn.execute(statement)
    assert len(services.artifacts.revisions([chart["id"]])[chart["id"]]) == 1


def seal(services, run_id: str, *sealed: dict) -> None:
    """Log the run's manifest listing these artifacts, as the workflow's logging step did
    before migration 0006 (no `sealed_by_run` on the rows: PATCH reads the manifest)."""
    manifest = run_manifest(services.artifacts.get_many(a["id"] for a in sealed), [])
    services.tracker.log_run(run_id, params={}, metrics={},
                             tags={RUN_MANIFEST_TAG: sha256_hex(manifest)},
                             files={RUN_MANIFEST_PATH: manifest})


def test_a_patch_of_an_artifact_its_run_manifest_lists_is_refused(
        api, mlflow_uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a SQLite MLflow store keeps run files under ./mlruns
    services = api.app.state.services
    run_id, experiment_id = log_run(mlflow_uri, {"workflow_id": WF, "execution_id": EXECUTION})
    sealed = store_chart(api, run_id=run_id, experiment_id=experiment_id)
    loose = store_chart(api, "TSLA Weekly Chart", run_id=run_id, experiment_id=experiment_id)
    seal(services, run_id, sealed)
    before = services.artifacts.get(sealed["id"])

    refused = patch(api, sealed["id"], LLM_CONTEXT)
    assert refused.status_code == 409, refused.text
    assert f"sealed by run {run_id}'s manifest" in refused.json()["detail"]
    assert services.artifacts.get(sealed["id"]) == before  # nothing written
    assert services.artifacts.revisions([sealed["id"]]) == {}
    assert patch(api, sealed["id"], {"chart_type": "daily"}).status_code == 200  # no change
    assert patch(api, loose["id"], LLM_CONTEXT).status_code == 200  # not in the manifest
    assert runtime.verify(services).ok


def test_a_payload_write_that_races_the_seal_is_refused(api):
    """The logging step seals the rows before it writes the manifest; a PATCH that read the
    artifact before that must not land after it."""
    services = api.app.state.services
    chart = store_chart(api)
    read = services.artifacts.get(chart["id"])
    services.artifacts.seal([chart["id"]], "f" * 32)
    with pytest.raises(Sealed, match=f"sealed by run {'f' * 32}'s manifest"):
        services.artifacts.replace_payload(chart["id"], {**read.payload, "prompt": "x"},
                                           read.updated_at, ["prompt"])
    assert services.artifacts.get(chart["id"]) == read.model_copy(
        update={"sealed_by_run": "f" * 32})
    assert services.artifacts.revisions([chart["id"]]) == {}
    refused = patch(api, chart["id"], LLM_CONTEXT)
    assert refused.status_code == 409 and "sealed by run" in refused.json()["detail"]


def test_evidence_bundles_carry_revisions_and_catch_a_forged_hash(api, tmp_path):
    services = api.app.state.services
    chart = store_chart(api)
    assert patch(api, chart["id"], LLM_CONTEXT).status_code == 200
    bundle = tmp_path / "chart.zip"
    runtime.export_evidence(services, chart["id"], bundle)
    with zipfile.ZipFile(bundle) as z:
        [revision] = json.loads(z.read("revisions.json"))
        assert "Content revisions" in z.read("index.html").decode()
    assert revision["changed"] == ["model_name", "prompt", "response"]
    assert verify_bundle(bundle).ok

    stored = services.artifacts.get(chart["id"])
    forged = {**stored.payload, "response": "Sell everything."}
    with services.engine.begin() as conn:
        conn.execute(update(artifacts).where(artifacts.c.id == chart["id"]).values(
            payload=forged, content_sha256=content_hash("chart", stored.name, "TSLA", forged,
                                                        None)))
    runtime.export_evidence(services, chart["id"], bundle)
    check = verify_bundle(bundle)  # the bundle is internally consistent but for that
    assert check.problems == [f"artifact {chart['id']}: content_sha256 is not the hash its last "
                              f"recorded revision left ({revision['new_sha256']}): content "
                              f"and hash were changed outside Provenant"]
