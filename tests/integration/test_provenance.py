"""Derivation edges, content hashes and the provenance walk, on SQLite and PostgreSQL."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from provenant import runtime
from provenant.artifacts import ArtifactConflict, store_signal_artifact
from provenant.domain.errors import NotFound, Refused
from provenant.lineage import mlflow_run_context
from provenant.service.evidence import verify_bundle
from provenant.service.provenance import walk
from provenant.store.tables import artifact_inputs, artifacts
from tests.support.api import AUTH, WF, png_bytes, signal_body
from tests.support.chain import EXECUTION, store_chain
from tests.support.legacy_db import LegacyDb, chart_row, llm_row, signal_row, sqlite_legacy_url

def _count(services, table) -> int:
    with services.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_the_chain_of_an_order_reads_up_and_down(services):
    chain = store_chain(services)
    up = runtime.provenance(services, chain["order"].id)
    assert [(n.type, n.depth) for n in up.nodes] == [
        ("order", 0), ("signal", 1), ("llm", 2), ("chart", 3), ("chart", 3)]
    assert {n.verification for n in up.nodes} == {"verified"}
    assert {n.run_id for n in up.nodes} == {chain["order"].run_id}
    assert all(n.lineage.status == "persisted" and len(n.content_sha256) == 64
               for n in up.nodes)
    assert {(e.artifact_id, e.input_id, e.inferred) for e in up.edges} == {
        (chain["order"].id, chain["signal"].id, False),
        (chain["signal"].id, chain["llm"].id, False),
        (chain["llm"].id, chain["daily"].id, False), (chain["llm"].id, chain["weekly"].id, False)}
    assert up.ok and not up.truncated

    down = runtime.provenance(services, chain["daily"].id, "down")
    assert [n.type for n in down.nodes] == ["chart", "llm", "signal", "order"]
    assert chain["weekly"].id not in {n.id for n in down.nodes}


def test_a_walk_cut_at_max_nodes_keeps_breadth_first_order_and_says_so(services):
    chain = store_chain(services)
    found, edges, truncated = walk(services.artifacts, chain["order"].id, max_nodes=4)
    assert [(a.id, depth) for a, depth in found] == [
        (chain["order"].id, 0), (chain["signal"].id, 1), (chain["llm"].id, 2),
        (min(chain["daily"].id, chain["weekly"].id), 3)]
    assert truncated
    assert [(e.artifact_id, e.input_id) for e in edges] == [
        (chain["order"].id, chain["signal"].id), (chain["signal"].id, chain["llm"].id),
        (chain["llm"].id, min(chain["daily"].id, chain["weekly"].id))]
    with pytest.raises(NotFound):
        walk(services.artifacts, 999_999)


def test_bad_inputs_are_refused_naming_them_and_nothing_is_written(services):
    chain = store_chain(services)
    rows, edges = _count(services, artifacts), _count(services, artifact_inputs)
    s = {"services": services, "symbol": "TSLA", "action": "SELL", "confidence": 0.5}
    with mlflow_run_context(WF, EXECUTION, services=services):
        with pytest.raises(Refused, match="input artifact.s. 999999 do not exist"):
            store_signal_artifact(name="x", step_name="s", inputs=[chain["llm"].id, 999999], **s)
        with pytest.raises(Refused, match="positive integers"):
            store_signal_artifact(name="x", step_name="s", inputs=["7"], **s)
        # A retried store that names itself as its input.
        with pytest.raises(Refused, match=f"input artifact {chain['signal'].id} is the "
                                          "artifact being"):
            store_signal_artifact(name="signal", action="BUY", confidence=0.7,
                                  step_name="generate_signal", inputs=[chain["signal"].id],
                                  services=services, symbol="TSLA")
    with mlflow_run_context(WF, "another-execution", services=services):
        with pytest.raises(Refused, match=re.escape(f"input artifact {chain['llm'].id} belongs "
                                                    f"to execution '{EXECUTION}'")):
            store_signal_artifact(name="x", step_name="s", inputs=[chain["llm"].id], **s)
    assert (_count(services, artifacts), _count(services, artifact_inputs)) == (rows, edges)


def test_a_retry_with_the_same_inputs_is_the_same_row_and_other_inputs_conflict(services):
    chain = store_chain(services)
    s = {"services": services, "symbol": "TSLA", "name": "signal", "action": "BUY",
         "confidence": 0.7, "step_name": "generate_signal"}
    with mlflow_run_context(WF, EXECUTION, services=services):
        assert store_signal_artifact(inputs=[chain["llm"].id], **s).id == chain["signal"].id
        with pytest.raises(ArtifactConflict, match="inputs"):
            store_signal_artifact(inputs=[chain["daily"].id], **s)
    assert services.artifacts.inputs_of(chain["signal"].id) == [chain["llm"].id]


def test_edges_added_later_refuse_cycles_and_self_reference(services):
    chain = store_chain(services)
    edges = _count(services, artifact_inputs)
    with pytest.raises(Refused, match=f"artifact {chain['daily'].id} is already upstream .* "
                                      "cycle"):
        services.artifacts.add_inputs(chain["daily"].id, [chain["order"].id])
    with pytest.raises(Refused, match="cannot be an input of itself"):
        services.artifacts.add_inputs(chain["llm"].id, [chain["llm"].id])
    assert _count(services, artifact_inputs) == edges
    # An edge that makes no cycle is added once, marked as inferred.
    assert services.artifacts.add_inputs(chain["signal"].id, [chain["daily"].id],
                                         inferred=True) == [chain["daily"].id]
    assert services.artifacts.add_inputs(chain["signal"].id, [chain["daily"].id]) == []
    up = runtime.provenance(services, chain["signal"].id)
    assert (chain["signal"].id, chain["daily"].id, True) in {
        (e.artifact_id, e.input_id, e.inferred) for e in up.edges}


def test_tampered_content_and_images_read_as_changed(services):
    chain = store_chain(services)
    with services.engine.begin() as conn:
        conn.execute(update(artifacts).where(artifacts.c.id == chain["signal"].id)
                     .values(payload={"action": "SELL", "confidence": 0.7}))
        conn.execute(update(artifacts).where(artifacts.c.id == chain["llm"].id)
                     .values(content_sha256=None))
    blob = next((services.settings.home / "blobs").rglob(f"{chain['weekly'].image_sha256}.*"))
    blob.write_bytes(png_bytes((1, 2, 3)))

    states = {n.id: (n.verification, n.problems)
              for n in runtime.provenance(services, chain["order"].id).nodes}
    assert states[chain["order"].id] == ("verified", [])
    assert states[chain["signal"].id][0] == "changed"
    assert "no longer matches its content_sha256" in states[chain["signal"].id][1][0]
    assert states[chain["llm"].id] == ("unverifiable", [])
    assert states[chain["weekly"].id] == ("changed", ["image bytes no longer match their sha256"])
    assert states[chain["daily"].id] == ("verified", [])


def test_the_api_takes_inputs_and_answers_the_chain(api):
    execution = "api-exec-1"
    llm = api.post("/api/artifacts", headers=AUTH, json=signal_body(
        type="llm", name="analysis", execution_id=execution, step_name="analyze_with_llm",
        payload={"prompt": "p", "response": "r", "model_name": "m"})).json()
    made = api.post("/api/artifacts", headers=AUTH, json=signal_body(
        execution_id=execution, inputs=[llm["id"]]))
    assert made.status_code == 201, made.text
    signal = made.json()

    chain = api.get(f"/api/artifacts/{signal['id']}/provenance")
    assert chain.status_code == 200
    body = chain.json()
    assert [(n["id"], n["verification"]) for n in body["nodes"]] == [
        (signal["id"], "verified"), (llm["id"], "verified")]
    assert body["edges"] == [{"artifact_id": signal["id"], "input_id": llm["id"],
                              "inferred": False}]
    down = api.get(f"/api/artifacts/{llm['id']}/provenance", params={"direction": "down"})
    assert [n["id"] for n in down.json()["nodes"]] == [llm["id"], signal["id"]]

    unknown = api.post("/api/artifacts", headers=AUTH,
                       json=signal_body(execution_id=execution, inputs=[123456]))
    assert unknown.status_code == 422 and "123456 do not exist" in unknown.json()["detail"]
    assert api.post("/api/artifacts", headers=AUTH,
                    json=signal_body(inputs=[0])).status_code == 422
    assert api.get(f"/api/artifacts/{llm['id']}/provenance",
                   params={"direction": "sideways"}).status_code == 422
    missing = api.get("/api/artifacts/987654/provenance")
    assert missing.status_code == 404 and "987654" in missing.json()["detail"]


def test_an_image_attached_later_is_part_of_the_hash(api):
    chart = api.post("/api/artifacts", headers=AUTH, json=signal_body(
        type="chart", name="c", payload={"chart_type": "daily"})).json()
    put = api.put(f"/api/artifacts/{chart['id']}/image", headers=AUTH, content=png_bytes())
    assert put.status_code in (200, 201), put.text
    node = api.get(f"/api/artifacts/{chart['id']}/provenance").json()["nodes"][0]
    assert node["verification"] == "verified"


def test_an_evidence_bundle_holds_the_chain_and_checks_clean(services, tmp_path):
    chain = store_chain(services)
    bundle = tmp_path / "evidence.zip"
    report = runtime.export_evidence(services, chain["order"].id, bundle)
    assert (report.artifacts, report.runs, report.changed) == (5, 1, [])
    check = verify_bundle(bundle)
    assert check.ok and check.artifacts == 5 and check.files == report.files - 1
    assert check.artifact_id == chain["order"].id


def test_imported_executions_get_inferred_edges_by_step_order(services, tmp_path):
    order_data = {"artifact_type": "order", "side": "BUY", "quantity": 5, "order_type": "MKT"}
    LegacyDb(url := sqlite_legacy_url(tmp_path / "legacy.db")).add(
        chart_row(40, "e1"), chart_row(41, "e1", chart_type="weekly", name="TSLA weekly"),
        llm_row(42, "e1"), signal_row(43, "e1"), signal_row(44, "e1", signal_data=order_data),
        # Another execution whose charts are missing: its analysis gets no invented input.
        llm_row(50, "e2"), signal_row(51, "e2")).close()
    report = runtime.import_rows(services, url)
    assert report.imported == [40, 41, 42, 43, 44, 50, 51] and report.inferred_edges == 5

    up = runtime.provenance(services, 44)
    assert [(n.id, n.type) for n in up.nodes] == [
        (44, "order"), (43, "signal"), (42, "llm"), (40, "chart"), (41, "chart")]
    assert all(e.inferred for e in up.edges) and len(up.edges) == 4
    assert [n.id for n in runtime.provenance(services, 51).nodes] == [51, 50]
    assert services.artifacts.inputs_of(50) == []
    # Importing again infers nothing twice.
    assert runtime.import_rows(services, url).inferred_edges == 0
