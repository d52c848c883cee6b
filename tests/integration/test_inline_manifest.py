"""The run manifest travels inline in a run tag too: verify reads it from the run searches it
makes anyway (no file request per run), trusts it only when it matches the recorded hash, and
`--deep` still reads every manifest file."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

from provenant import runtime
from provenant.bootstrap import configure, reset_services
from provenant.domain.provenance import (
    INLINE_MANIFEST_MAX_BYTES, RUN_MANIFEST_INLINE_TAG, RUN_MANIFEST_PATH, RUN_MANIFEST_TAG,
    inline_manifest, sha256_hex)
from provenant.testing.proxy import CountingProxy
from provenant.workflows import run_workflow
from tests.support.cli import cli

WF = "ibkr_trading_signal_workflow"


@pytest.fixture
def executed(services, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a SQLite MLflow store keeps run files under ./mlruns
    result = run_workflow(WF, "TSLA", "inline-manifest-1", services=services)
    client = MlflowClient(services.settings.mlflow_tracking_uri)
    return result, client, services.artifacts.by_execution("inline-manifest-1")


def manifest_file(client: MlflowClient, run_id: str) -> Path:
    """The manifest file in the local artifact store, to edit behind MLflow's back."""
    uri = client.get_run(run_id).info.artifact_uri
    root = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
    return root / RUN_MANIFEST_PATH


def forged_manifest(manifest: bytes, artifact_id: int) -> bytes:
    """The same manifest claiming another content hash for one artifact."""
    body = json.loads(manifest)
    for entry in body["artifacts"]:
        if entry["id"] == artifact_id:
            entry["content_sha256"] = "0" * 64
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def test_the_inline_limit_stays_under_mlflows_tag_value_limit():
    assert INLINE_MANIFEST_MAX_BYTES < MAX_TAG_VAL_LENGTH
    assert inline_manifest(b"x" * INLINE_MANIFEST_MAX_BYTES) == "x" * INLINE_MANIFEST_MAX_BYTES
    assert inline_manifest(b"x" * (INLINE_MANIFEST_MAX_BYTES + 1)) is None  # the file only
    wide = "é".encode() * (INLINE_MANIFEST_MAX_BYTES // 2 + 1)  # counted in bytes, not chars
    assert inline_manifest(wide) is None


@pytest.mark.mlflow_server
def test_verify_reads_no_manifest_file_for_a_run_that_carries_it_inline(
        make_settings, tmp_path, mlflow_server):
    execution = f"inline-{uuid.uuid4().hex}"
    with CountingProxy(mlflow_server.url) as proxy:
        services = configure(make_settings(database_url=f"sqlite:///{tmp_path / 'p.db'}",
                                           mlflow_tracking_uri=proxy.url))
        try:
            result = run_workflow(WF, "TSLA", execution, services=services)
            tags = MlflowClient(proxy.url).get_run(result.run_id).data.tags
            file = services.tracker.run_file(result.run_id, RUN_MANIFEST_PATH)
            assert tags[RUN_MANIFEST_INLINE_TAG].encode() == file  # exactly the file's bytes
            assert sha256_hex(file) == tags[RUN_MANIFEST_TAG]

            proxy.reset()
            report = runtime.verify(services)
            fast = [path for _, path in proxy.requests if "mlflow-artifacts" in path]
            proxy.reset()
            deep = runtime.verify(services, deep=True)
            read = [path for _, path in proxy.requests if "mlflow-artifacts" in path]
        finally:
            reset_services()
    assert report.ok and deep.ok, (report.mismatches, deep.mismatches)
    assert report.checked == deep.checked == len(services.artifacts.by_execution(execution))
    assert fast == []  # the manifest came with the run search
    assert len(read) == 1 and read[0].endswith(RUN_MANIFEST_PATH)
    assert deep.tracking_calls == report.tracking_calls + 1


def test_a_tampered_inline_copy_is_named_and_the_file_still_decides(services, executed):
    result, client, stored = executed
    llm = next(a for a in stored if a.type == "llm")
    manifest = manifest_file(client, result.run_id).read_bytes()
    client.set_tag(result.run_id, RUN_MANIFEST_INLINE_TAG,
                   forged_manifest(manifest, llm.id).decode())

    found = {(m.artifact_id, m.check, m.problem) for m in runtime.verify(services).mismatches}
    says = (f"run {result.run_id}'s {RUN_MANIFEST_INLINE_TAG} tag does not match the manifest "
            "hash it recorded")
    assert found == {(a.id, "manifest", says) for a in stored}  # the file agrees with the rows

    done = cli(services, "lineage", "verify")
    assert done.returncode == 1 and "found by the manifest check(s)" in done.stderr
    assert f"-> run {result.run_id} (manifest check): {says}" in done.stderr


def test_deep_reads_the_manifest_file_the_default_trusts_to_its_tag(services, executed):
    result, client, stored = executed
    signal = next(a for a in stored if a.type == "signal")
    path = manifest_file(client, result.run_id)
    path.write_bytes(forged_manifest(path.read_bytes(), signal.id))  # the tag left alone

    assert runtime.verify(services).ok  # the inline copy matches its recorded hash
    says = f"run {result.run_id}'s {RUN_MANIFEST_PATH} does not match the hash it recorded"
    found = {(m.artifact_id, m.check, m.problem)
             for m in runtime.verify(services, deep=True).mismatches}
    assert found == {(a.id, "manifest", says) for a in stored}

    assert cli(services, "lineage", "verify").returncode == 0
    done = cli(services, "lineage", "verify", "--deep", "--json")
    assert done.returncode == 1, done.stderr
    assert {m["problem"] for m in json.loads(done.stdout)["mismatches"]} == {says}


def test_a_run_logged_before_the_inline_tag_is_checked_from_its_file(services, executed):
    result, client, stored = executed
    client.delete_tag(result.run_id, RUN_MANIFEST_INLINE_TAG)
    report = runtime.verify(services)
    assert report.ok, report.mismatches
    assert runtime.verify(services, deep=True).tracking_calls == report.tracking_calls

    signal = next(a for a in stored if a.type == "signal")
    path = manifest_file(client, result.run_id)
    path.write_bytes(forged_manifest(path.read_bytes(), signal.id))
    says = f"run {result.run_id}'s {RUN_MANIFEST_PATH} does not match the hash it recorded"
    assert {m.problem for m in runtime.verify(services).mismatches} == {says}
