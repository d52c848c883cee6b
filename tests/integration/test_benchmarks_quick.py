"""`python -m benchmarks --tiny` as a subprocess: structural results only (never timings).

Every benchmark runs for real at tiny sizes against the session's `mlflow server`,
detail_read with wrk against real `provenant serve` and `mlflow server` processes.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.mlflow_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def results(tmp_path_factory, mlflow_server) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--only", "store_path",
         "--only", "detail_read", "--only", "repair", "--only", "listing",
         "--only", "provenance", "--only", "verify", "--only", "legacy_scale",
         "--json", str(out),
         "--mlflow-url", mlflow_server.url, "--mlflow-backend-uri", mlflow_server.backend_uri],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    document = json.loads(out.read_text())
    assert document["mode"] == "tiny"
    return {r["name"]: r for r in document["results"]}


def rows_of(result: dict) -> dict[str, dict]:
    assert result["error"] is None
    return {row["case"]: row["metrics"] for row in result["rows"]}


def test_store_path_makes_no_tracking_calls(results):
    rows = rows_of(results["store_path"])
    per_store = {case: m["calls_per_store"] for case, m in rows.items()
                 if "calls_per_store" in m}
    assert set(per_store) == {f"{kind}: {mode}" for kind in ("signal", "llm", "chart")
                              for mode in ("context", "explicit")}
    assert all(calls == 0 for calls in per_store.values())


def test_detail_read_measures_both_servers_with_wrk_without_errors(results):
    rows = rows_of(results["detail_read"])
    measured = {case: m for case, m in rows.items() if not case.startswith("ratio")}
    assert len(measured) == 6  # 2 targets x (32 and 1 client at 1 worker, 32 at 2 workers)
    for case, metrics in measured.items():
        assert metrics["requests"] > 0, case
        assert metrics["errors"] == 0, case
        assert metrics["p50_ms"] <= metrics["p99_ms"] <= metrics["max_ms"], case
    assert {case for case in rows if case.startswith("ratio")} == {
        "ratio (provenant / mlflow) @32, 1 worker", "ratio (provenant / mlflow) @32, 2 workers"}


def test_repair_calls_grow_with_pages_not_artifacts(results):
    rows = rows_of(results["repair"])
    ours, baseline = rows["repair_lineage"], rows["one search per artifact"]
    assert ours["artifacts"] == 200
    assert ours["tracking_calls"] <= 5  # a few pages for 50 executions, 200 artifacts
    assert baseline["calls_per_artifact"] == 1.0
    assert baseline["tracking_calls"] == baseline["artifacts"] > 0


def test_listing_keyset_and_offset_pages_are_measured_on_sqlite(results):
    rows = rows_of(results["listing"])
    sqlite_cases = [case for case in rows if case.startswith("sqlite: ")]
    assert len(sqlite_cases) == 8  # 6 paging cases + 2 lineage-state filters
    assert all(rows[case]["n"] >= 5 for case in sqlite_cases)


def test_benchmarks_refuse_tiny_numbers_in_the_docs():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--tiny", "--update-docs"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "--tiny numbers mean nothing" in done.stderr


def test_provenance_walks_a_seeded_chain(results):
    rows = rows_of(results["provenance"])
    assert rows["sqlite: chain of one signal"] == {"nodes": 4, "edges": 3}
    assert rows["postgresql: chain of one signal"] == {"nodes": 4, "edges": 3}
    for backend in ("sqlite", "postgresql"):
        for case in ("walk, one recursive query", "walk, baseline: two queries per level",
                     "service call (walk + hashes)",
                     "GET /api/artifacts/{id}/provenance (provenant serve, 1 worker)"):
            assert rows[f"{backend}: {case}"]["n"] == 20, (backend, case)


def test_verify_reads_each_run_once_and_the_baseline_once_per_artifact(results):
    rows = rows_of(results["verify"])
    ours = rows["verify_lineage (through the counting proxy)"]
    assert (ours["artifacts"], ours["runs"]) == (200, 50)
    # experiments and one search per 100 run ids; the manifests came inline in the searches
    assert ours["manifest_files"] == 0 and ours["http_requests"] <= 1 + 1 + 5
    assert rows["verify_lineage (direct to mlflow server)"]["manifest_files"] == 0
    assert rows["verify_lineage --deep (direct; every manifest file)"]["manifest_files"] == 50
    baseline = rows["one by one: run + manifest per artifact (through the proxy)"]
    assert baseline["artifacts"] > 0
    assert baseline["requests_per_artifact"] >= 1  # its run (the manifest inline in it)


def test_legacy_scale_runs_the_real_commands_and_measures_them(results):
    rows = rows_of(results["legacy_scale"])  # the benchmark itself checks both JSON reports
    imported = rows["provenant artifacts import-legacy --json"]
    repaired = rows["provenant lineage repair --json"]
    assert imported["rows"] == repaired["rows"] == 400
    assert imported["inferred_edges"] == 300  # per execution: llm <- 2 charts, signal <- llm
    for measured in (imported, repaired):
        assert 0 < measured["cpu_s"] and 50 < measured["peak_rss_mb"] < 10_000
    assert repaired["tracking_calls"] <= 5  # pages of runs, not one call per artifact
    baseline = rows["baseline: one MLflow search per artifact (in process)"]
    assert baseline["tracking_calls"] == baseline["rows"] > 0
    assert {t["name"] for t in results["legacy_scale"]["targets"]} == {
        "import rate", "import peak RSS", "repair peak RSS", "repair speed-up at scale"}
