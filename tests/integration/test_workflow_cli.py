"""`provenant run` as a user runs it: a subprocess, a fresh PROVENANT_HOME, a real `mlflow server`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from provenant.bootstrap import configure, reset_services
from provenant.cli import app
from tests.support.cli import provenant, stored_artifacts
from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.mlflow_server
WF = "ibkr_trading_signal_workflow"


def test_run_tsla_json_gives_every_artifact_the_returned_run(tmp_path, mlflow_server):
    home = tmp_path / "home"
    done = provenant("run", WF, "--symbol", "TSLA", "--json", home=home,
                     tracking_uri=mlflow_server.url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout holds exactly one JSON object
    assert set(result) == {"workflow_id", "execution_id", "run_id", "experiment_id", "status",
                           "artifacts"}
    assert result["workflow_id"] == WF and result["status"] == "FINISHED"
    assert result["execution_id"].startswith("manual__20")

    client = MlflowClient(mlflow_server.url)
    run = client.get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == result["experiment_id"]
    assert run.data.tags["execution_id"] == result["execution_id"]
    assert run.data.tags["workflow_id"] == WF
    assert run.data.params["symbol"] == "TSLA"
    assert run.data.params["market_data_provider"] == "bundled"
    assert {"confidence", "score", "daily.close", "daily.rsi_14", "daily.sma_200"} <= set(
        run.data.metrics)
    charts = sorted(f.path for f in client.list_artifacts(run.info.run_id, "charts"))
    assert charts == ["charts/TSLA_daily.png", "charts/TSLA_weekly.png"]
    local = client.download_artifacts(run.info.run_id, "charts/TSLA_daily.png", str(tmp_path))
    assert Path(local).read_bytes().startswith(b"\x89PNG")

    stored = stored_artifacts(home, mlflow_server.url, result["execution_id"])
    kinds = [a.type for a in stored]
    assert kinds.count("chart") >= 2 and [kinds.count(k) for k in ("llm", "signal", "order")] \
        == [1, 1, 1]
    assert kinds.count("market_data") == 2
    for artifact in stored:
        assert (artifact.run_id, artifact.experiment_id) == (run.info.run_id,
                                                             run.info.experiment_id)
    assert result["artifacts"] == [{"id": a.id, "type": a.type, "name": a.name} for a in stored]
    assert run.data.tags["provenant.artifact_ids"] == ",".join(str(a.id) for a in stored)
    assert {a.payload["chart_type"] for a in stored if a.type == "chart"} == {"daily", "weekly"}
    assert all("rsi_14" in a.payload["indicators"] for a in stored if a.type == "chart")


def test_a_failing_step_fails_the_run_and_keeps_earlier_lineage(tmp_path, mlflow_server):
    home = tmp_path / "home"
    with OpenAIServer() as llm:
        llm.default = llm.answer('{"action": "BUY", "confid', "length").replies.pop()
        done = provenant("run", WF, "--symbol", "NFLX", "--analyst", "openai", "--json",
                         home=home, tracking_uri=mlflow_server.url,
                         PROVENANT_LLM_BASE_URL=llm.url, PROVENANT_LLM_MAX_ATTEMPTS="2")
    assert done.returncode == 1
    assert "Error:" in done.stderr and "step analyze_with_llm failed" in done.stderr
    assert "no valid signal in 2 attempt(s)" in done.stderr and "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED" and "analyze_with_llm" in result["error"]
    run = MlflowClient(mlflow_server.url).get_run(result["run_id"])
    assert run.info.status == "FAILED"
    stored = stored_artifacts(home, mlflow_server.url, result["execution_id"])
    assert [a.type for a in stored] == ["market_data", "chart", "market_data", "chart", "llm"]
    assert {(a.run_id, a.experiment_id) for a in stored} == {(run.info.run_id,
                                                              run.info.experiment_id)}
    assert stored[-1].payload["valid"] is False


@pytest.mark.parametrize("args, message", [
    (("run", "no_such_workflow", "--symbol", "TSLA"),
     f"unknown workflow 'no_such_workflow'; available: {WF}"),
    (("run", WF, "--symbol", "TSLA", "--market-data", "yahoo"), "market_data_provider"),
])
def test_bad_requests_are_one_line_errors(tmp_path, mlflow_server, args, message):
    done = provenant(*args, home=tmp_path / "home", tracking_uri=mlflow_server.url)
    assert done.returncode == 1 and message in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.fixture
def in_process(make_settings, mlflow_uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a SQLite MLflow store writes run files under ./mlruns
    yield configure(make_settings(mlflow_tracking_uri=mlflow_uri))
    reset_services()


def test_several_symbols_run_as_separate_executions(in_process, mlflow_uri):
    done = CliRunner().invoke(app, ["run", WF, "--symbol", "msft", "--symbol", "NVDA",
                                    "--execution-id", "batch-7", "--json"])
    assert done.exit_code == 0, done.output
    results = json.loads(done.stdout)
    assert [r["execution_id"] for r in results] == ["batch-7__MSFT", "batch-7__NVDA"]
    assert len({r["run_id"] for r in results}) == 2
    client = MlflowClient(mlflow_uri)
    for result in results:
        assert result["status"] == "FINISHED" and len(result["artifacts"]) >= 4
        run = client.get_run(result["run_id"])
        assert run.data.tags["execution_id"] == result["execution_id"]
        assert run.data.params["symbol"] == result["execution_id"][-4:]


def test_progress_display_and_workflows_list(in_process):
    listed = CliRunner().invoke(app, ["workflows", "list", "--json"])
    assert json.loads(listed.stdout)[0]["steps"][-1] == "log_to_mlflow"
    shown = CliRunner().invoke(app, ["run", WF, "--symbol", "TSLA", "--execution-id", "p-1"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == ""  # progress goes to stderr, stdout stays for --json
    for step in ("fetch_market_data", "generate_weekly_chart", "place_order", "log_to_mlflow"):
        assert f"✓ {step}" in shown.stderr
    assert "FINISHED run" in shown.stderr and "/#/experiments/" in shown.stderr
