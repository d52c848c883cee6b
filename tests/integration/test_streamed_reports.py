"""Repair and import reports streamed as one valid JSON document, for backlogs of many batches."""
from __future__ import annotations

import io
import json

import pytest

from provenant import runtime
from provenant.cli.streaming import StreamedJson, streamed_report
from provenant.domain.reports import RepairedArtifact

from tests.support.backlog import legacy_with_runs
from tests.support.cli import cli
from tests.support.legacy_db import LegacyDb, chart_row, llm_row, signal_row, sqlite_legacy_url


def test_repair_json_of_many_batches_is_one_complete_document(services, mlflow_uri, tmp_path):
    expected = legacy_with_runs(services, mlflow_uri, tmp_path)  # 200 artifacts, 40 executions
    result = cli(services, "lineage", "repair", "--json", PROVENANT_REPAIR_BATCH_SIZE="7")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # one document, or this raises
    assert {key for key in report} >= {"scanned", "repaired", "unresolved", "errors"}
    assert report["scanned"] == len(expected) == 200 and report["executions"] == 40
    assert {r["artifact_id"]: r["run_id"] for r in report["repaired"]} == expected
    assert len(report["repaired"]) == 200  # each once
    assert report["unresolved"] == [] and report["skipped"] == [] and report["errors"] == []
    # The stored lineage is what the report says.
    assert all(services.artifacts.get(i).run_id == run for i, run in expected.items())


def test_the_airflow_task_counts_a_backlog_without_holding_it(services, mlflow_uri, tmp_path):
    from provenant.airflow.repair import run_repair  # plain Python: no Airflow import

    expected = legacy_with_runs(services, mlflow_uri, tmp_path)
    summary = run_repair()
    assert {k: summary[k] for k in ("scanned", "repaired", "unresolved", "executions")} == {
        "scanned": 200, "repaired": 200, "unresolved": 0, "executions": 40}
    assert all(services.artifacts.get(i).run_id == run for i, run in expected.items())


def chains_db(tmp_path) -> str:
    """Two executions whose chains a page of 2 rows cuts in the middle."""
    order = {"artifact_type": "order", "side": "BUY", "quantity": 5, "order_type": "MKT"}
    url = sqlite_legacy_url(tmp_path / "legacy.db")
    LegacyDb(url).add(
        chart_row(40, "e1"), chart_row(41, "e1", chart_type="weekly", name="TSLA weekly"),
        llm_row(42, "e1"), signal_row(43, "e1"), signal_row(44, "e1", signal_data=order),
        llm_row(50, "e2"), signal_row(51, "e2"), signal_row(52, "e3", signal_data={"x": 1},
                                                               confidence=7)).close()
    return url


def test_import_in_small_pages_streams_a_complete_report_and_the_same_chains(services,
                                                                              tmp_path):
    out, url = io.StringIO(), chains_db(tmp_path)
    sink = StreamedJson(out, "imported", ("skipped", "failed", "warnings"))
    report = runtime.import_rows(services, url, page_size=2, sink=sink)
    sink.finish(report.to_dict())

    document = json.loads(out.getvalue())
    assert document["imported"] == [40, 41, 42, 43, 44, 50, 51]
    assert [f["id"] for f in document["failed"]] == [52]  # confidence 7 is not 0 to 1
    assert document["skipped"] == [] and document["total"] == 8
    assert report.imported == []  # the sink had the items, the report only the totals
    # Chains cut by pages get the edges a single page would give (see test_provenance).
    assert document["inferred_edges"] == 5
    assert [n.id for n in runtime.provenance(services, 44).nodes] == [44, 43, 42, 40, 41]

    again = runtime.import_rows(services, url, page_size=3)
    assert again.skipped == [40, 41, 42, 43, 44, 50, 51] and again.inferred_edges == 0


def test_a_job_failing_half_way_still_leaves_one_valid_document():
    out = io.StringIO()
    with pytest.raises(RuntimeError), streamed_report(out, "repaired", ("unresolved",),
                                                      {"dry_run": False}) as sink:
        sink.add("repaired", RepairedArtifact(artifact_id=1, run_id="a" * 32,
                                              experiment_id="1"))
        sink.add("unresolved", 2)
        raise RuntimeError("tracking server went away\nsecond line")
    assert json.loads(out.getvalue()) == {
        "repaired": [{"artifact_id": 1, "run_id": "a" * 32, "experiment_id": "1"}],
        "unresolved": [2], "dry_run": False, "errors": ["tracking server went away"]}


def test_a_job_failing_before_its_first_item_prints_nothing():
    out = io.StringIO()
    with pytest.raises(ValueError), streamed_report(out, "imported", ("failed",), {}):
        raise ValueError("not a database URL")
    assert out.getvalue() == ""
