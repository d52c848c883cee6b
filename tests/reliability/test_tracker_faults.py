"""The MLflow tracker down or slow: reads stay up, workflows stop at their start, repair recovers.

"Down" is a real `mlflow server` of this module's own, stopped (the session's server is never
stopped); "slow" is the CountingProxy with a delay in front of the session's server.
"""
from __future__ import annotations

import json
import shutil
import time
import uuid

import httpx
import pytest
from mlflow.tracking import MlflowClient

from provenant import runtime
from provenant.http.app import create_app
from provenant.bootstrap import Services, configure, reset_services
from provenant.adapters.mlflow_tracker import TrackingUnavailable
from provenant.adapters.mlflow_tracker import MLFLOW_ENVIRONMENT
from provenant.workflows import WorkflowFailed, run_workflow
from tests.support.api import LiveServer
from tests.support.cli import cli, provenant, stored_artifacts
from tests.support.legacy_db import LegacyDb, chart_row, create_run, signal_row, sqlite_legacy_url
from tests.support.mlflow_server import MlflowServer
from tests.support.proxy import CountingProxy

pytestmark = pytest.mark.mlflow_server

WF = "ibkr_trading_signal_workflow"
# Far below MLflow's own retry schedule (7 retries, doubling back-off: minutes) that an
# unbounded read or start would sit through; only a hang makes a client give up here.
CLIENT_PATIENCE_SECONDS = 30


@pytest.fixture(scope="module")
def tracker(tmp_path_factory, mlflow_template):
    """This module's own real `mlflow server`, which its tests stop and start again."""
    workdir = tmp_path_factory.mktemp("own-tracker")
    shutil.copy(mlflow_template, workdir / "mlflow.db")
    server = MlflowServer(workdir, workers=1).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _forget_services():
    yield
    reset_services()


@pytest.fixture
def stopped(tracker) -> MlflowServer:
    """The module's server, stopped: its port refuses connections."""
    tracker.stop()
    return tracker


@pytest.fixture
def mlflow_default_retries(monkeypatch):
    """MLflow's own HTTP retry settings (minutes for a dead server), not `serve`'s short ones."""
    for name in MLFLOW_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def legacy_import(services, tmp_path, execution_id: str) -> None:
    """As the previous system left them (an execution id, no run): artifacts 23 and 24 of
    `execution_id`, and 31 of an execution no run will ever be found for."""
    url = sqlite_legacy_url(tmp_path / "legacy.db")
    LegacyDb(url).add(chart_row(24, execution_id), signal_row(23, execution_id),
                      chart_row(31, f"never-run-{execution_id}")).close()
    assert runtime.import_rows(services, url).imported == [23, 24, 31]


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_reads_stay_up_and_say_unavailable_while_the_tracker_is_stopped(
        api_settings, stopped, tmp_path, mlflow_default_retries):
    services = configure(api_settings(mlflow_tracking_uri=stopped.url,
                                      hydration_timeout_seconds=0.5))
    execution_id = f"2025-11-15 13:54:31.{uuid.uuid4().int % 10**6:06d}+00:00"
    legacy_import(services, tmp_path, execution_id)
    reads = {"artifact": "/api/artifacts/24", "again": "/api/artifacts/24",
             "other": "/api/artifacts/23", "drawer": "/artifacts/24",
             "execution": f"/api/executions/{execution_id}"}
    answers, seconds = {}, {}
    with LiveServer(create_app(services)) as live:
        for name, path in reads.items():
            started = time.perf_counter()
            answers[name] = httpx.get(live.url + path, timeout=CLIENT_PATIENCE_SECONDS)
            seconds[name] = round(time.perf_counter() - started, 2)
        listed = httpx.get(f"{live.url}/api/artifacts", timeout=CLIENT_PATIENCE_SECONDS).json()
    print(f"\n{services.engine.dialect.name}: reads with the tracker stopped took {seconds} s "
          f"(hydration_timeout_seconds=0.5)")

    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(reads, 200)
    for name in ("artifact", "again", "other"):
        body = answers[name].json()
        assert body["lineage"] == {"status": "unavailable", "mlflow_run_url": None,
                                   "repaired_at": None}
        assert body["run_id"] is None and body["execution_id"] == execution_id
    page = one_line(answers["drawer"].text)
    assert 'data-testid="lineage-status">Unavailable<' in page
    assert "The MLflow tracking server could not be reached" in page
    execution = answers["execution"].json()
    assert execution["run"] is None
    assert {a["lineage"]["status"] for a in execution["artifacts"]} == {"unavailable"}
    # The list shows stored lineage and never waits for MLflow.
    assert {a["id"]: a["lineage"]["status"] for a in listed["items"]} == dict.fromkeys(
        (31, 24, 23), "pending")
    assert services.artifacts.repairs() == []
    assert [a.run_id for a in services.artifacts.get_many([23, 24, 31])] == [None] * 3


def test_cli_run_stops_at_its_start_while_the_tracker_is_stopped(stopped, tmp_path):
    home, execution_id = tmp_path / "home", f"down-{uuid.uuid4().hex}"
    started = time.perf_counter()
    done = provenant("run", WF, "--symbol", "TSLA", "--execution-id", execution_id, "--json",
                     home=home, tracking_uri=stopped.url)  # MLflow's default retries: no MLFLOW_*
    print(f"\nprovenant run with the tracker stopped failed in "
          f"{time.perf_counter() - started:.2f} s")

    assert done.returncode == 1 and done.stdout == ""
    message = one_line(done.stderr)
    assert message.startswith(f"Error: the MLflow tracking server {stopped.url} is not "
                              "reachable (the connection was refused or dropped); nothing was "
                              "run or stored."), message
    assert "Traceback" not in done.stderr
    assert stored_artifacts(home, stopped.url, execution_id) == []
    runs = MlflowClient(stopped.backend_uri).search_runs(
        [e.experiment_id for e in MlflowClient(stopped.backend_uri).search_experiments()],
        f"tags.execution_id = '{execution_id}'")
    assert runs == []


def test_run_workflow_raises_before_any_step_while_the_tracker_is_stopped(
        make_settings, database_url, stopped, mlflow_default_retries):
    services = configure(make_settings(database_url=database_url,
                                       mlflow_tracking_uri=stopped.url))
    events = []
    with pytest.raises(TrackingUnavailable, match="is not reachable .*nothing was run or stored"):
        run_workflow(WF, "TSLA", "down-in-process", on_step=events.append, services=services)
    assert events == []
    assert services.artifacts.count() == 0
    assert services.execution_runs.get(WF, "down-in-process") is None


def test_a_tracker_slower_than_the_request_timeout_stops_the_workflow_at_its_start(
        make_settings, mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    with CountingProxy(mlflow_server.url) as proxy:
        proxy.delay = 3.0
        services = configure(make_settings(mlflow_tracking_uri=proxy.url))
        with pytest.raises(TrackingUnavailable, match=r"not reachable \(no answer within 1 s\)"):
            run_workflow(WF, "TSLA", f"slow-{uuid.uuid4().hex}", services=services)
        assert proxy.count == 1  # the reachability check only: nothing else was tried
    assert services.artifacts.count() == 0


def test_tracker_lost_mid_run_fails_the_execution_and_every_artifact_keeps_its_run(
        make_settings, mlflow_server, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    execution_id = f"lost-{uuid.uuid4().hex}"

    with CountingProxy(mlflow_server.url) as proxy:
        def cut_after_the_order(event):
            if event.step == "place_order" and event.status == "succeeded":
                proxy.down = True

        services = configure(make_settings(mlflow_tracking_uri=proxy.url))
        with pytest.raises(WorkflowFailed) as failed:
            run_workflow(WF, "TSLA", execution_id, on_step=cut_after_the_order,
                         services=services)
    result = failed.value.result
    assert result.status == "FAILED" and "step log_to_mlflow failed" in result.error
    stored = services.artifacts.by_execution(execution_id)
    assert [a.type for a in stored][:6] == ["market_data", "chart", "market_data", "chart",
                                            "llm", "signal"]
    assert {(a.run_id, a.experiment_id) for a in stored} == {(result.run_id,
                                                              result.experiment_id)}
    assert f"could not mark MLflow run {result.run_id} FAILED" in caplog.text


def test_a_symbol_without_market_data_is_refused_before_any_run(tmp_path):
    home, tracking_uri = tmp_path / "home", f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = provenant("run", WF, "--symbol", "TSLA", "--symbol", "ZZZZ", "--execution-id",
                     "refused", "--json", home=home, tracking_uri=tracking_uri)
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    assert one_line(done.stderr) == (
        "Error: no bundled market data for 'ZZZZ'; bundled symbols: AMZN, MSFT, NFLX, NVDA, "
        "TSLA (or use the csv/ibkr provider)")
    assert runs_in(tracking_uri) == []  # not even TSLA's: every symbol is checked first
    for execution_id in ("refused__TSLA", "refused__ZZZZ"):
        assert stored_artifacts(home, tracking_uri, execution_id) == []


@pytest.mark.parametrize("symbol, params, says", [
    ("zzzz", None, "no bundled market data for 'ZZZZ'"),
    ("TSLA", {"market_data_provider": "csv", "market_data_csv": "/nonexistent/bars.csv"},
     "market data file /nonexistent/bars.csv does not exist"),
    ("TSLA", {"market_data_provider": "csv"}, "the csv provider needs a file"),
])
def test_run_workflow_refuses_inputs_without_market_data_before_its_run(
        make_settings, mlflow_uri, symbol, params, says):
    services = configure(make_settings(mlflow_tracking_uri=mlflow_uri))
    with pytest.raises(ValueError, match=says):
        run_workflow(WF, symbol, "refused", params=params, services=services)
    assert runs_in(mlflow_uri) == [] and services.artifacts.count() == 0


def runs_in(tracking_uri: str) -> list:
    client = MlflowClient(tracking_uri)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def test_repair_reports_a_stopped_tracker_writes_nothing_then_repairs_once_it_is_back(
        make_settings, stopped, tmp_path, monkeypatch):
    # SQLite only: a stop/start costs ~5 s; test_repair_cli covers a dead tracker on PostgreSQL.
    services = configure(make_settings())
    execution_id = f"2025-11-15 13:54:31.{uuid.uuid4().int % 10**6:06d}+00:00"
    legacy_import(services, tmp_path, execution_id)
    client = MlflowClient(stopped.backend_uri)  # the stopped server's own store
    run = create_run(client, client.create_experiment(f"legacy-{uuid.uuid4().hex[:8]}"),
                     execution_id)

    down = cli(services, "lineage", "repair", "--json",
               PROVENANT_MLFLOW_TRACKING_URI=stopped.url)
    assert down.returncode == 1, down.stderr
    report = json.loads(down.stdout)
    assert report["repaired"] == [] and report["scanned"] == 3
    assert len(report["errors"]) == 1 and stopped.url in report["errors"][0]
    assert f"Error: lineage repair: MLflow tracking at {stopped.url}" in one_line(down.stderr)
    assert "Traceback" not in down.stderr
    assert services.artifacts.repairs() == []
    assert [a.run_id for a in services.artifacts.get_many([23, 24, 31])] == [None] * 3

    stopped.start()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with CountingProxy(stopped.url) as proxy:  # back, but slower than the request timeout
        proxy.delay = 1.5
        through_proxy = Services(services.settings.model_copy(
            update={"mlflow_tracking_uri": proxy.url}))
        slow = runtime.repair(through_proxy)
        through_proxy.close()
    assert slow.repaired == [] and "timed out" in slow.errors[0]
    assert services.artifacts.repairs() == []

    back = cli(services, "lineage", "repair", "--json",
               PROVENANT_MLFLOW_TRACKING_URI=stopped.url)
    assert back.returncode == 0, back.stderr
    report = json.loads(back.stdout)
    lineage = {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}
    assert report["errors"] == [] and report["unresolved"] == [31]
    assert sorted(report["repaired"], key=lambda r: r["artifact_id"]) == [
        {"artifact_id": 23, **lineage}, {"artifact_id": 24, **lineage}]
    assert sorted((r.artifact_id, r.run_id, r.source) for r in services.artifacts.repairs()) == [
        (23, run.info.run_id, "repair"), (24, run.info.run_id, "repair")]
