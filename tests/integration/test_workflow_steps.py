"""The step API as Airflow uses it: one step per call, JSON state, a real MLflow store."""
from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from provenant.bootstrap import configure, reset_services
from provenant.workflows import (
    StepFailed, UnknownWorkflow, WorkflowFailed, execute_step, get_workflow, run_workflow,
    start_inputs)
from provenant.workflows.ibkr_signal.mlflow_logging import ARTIFACT_IDS_TAG
from tests.support.openai_server import OpenAIServer

WF = "ibkr_trading_signal_workflow"
STEPS = ("fetch_market_data", "generate_daily_chart", "generate_weekly_chart",
         "analyze_with_llm", "generate_signal", "place_order", "log_to_mlflow")


@pytest.fixture
def llm():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def workflow_services(make_settings, mlflow_uri, tmp_path, monkeypatch, llm):
    # A SQLite MLflow store puts run files under ./mlruns: keep them in the test's folder.
    monkeypatch.chdir(tmp_path)
    services = configure(make_settings(mlflow_tracking_uri=mlflow_uri, llm_base_url=llm.url,
                                       llm_max_attempts=1))
    yield services
    reset_services()


def through_xcom(state: dict) -> dict:
    return json.loads(json.dumps(state))  # what survives Airflow's XCom


def test_the_workflow_lists_its_steps_in_order():
    assert get_workflow(WF).step_names == STEPS
    with pytest.raises(UnknownWorkflow, match=f"unknown workflow 'nope'; available: {WF}"):
        get_workflow("nope")
    with pytest.raises(LookupError, match="has no step 'fly'"):
        get_workflow(WF).step("fly")


def test_steps_run_one_per_call_in_one_run(workflow_services, mlflow_uri):
    client, execution_id = MlflowClient(mlflow_uri), "scheduled__2026-11-25T10:00:00+00:00"
    state = start_inputs(WF, "tsla", settings=workflow_services.settings)
    assert state["symbol"] == "TSLA" and state["params"]["analyst"] == "rules"
    for name in STEPS:
        state = through_xcom(execute_step(WF, name, execution_id, state,
                                                 services=workflow_services))
        status = client.get_run(state["run_id"]).info.status
        assert status == ("FINISHED" if name == STEPS[-1] else "RUNNING"), name
    run = client.get_run(state["run_id"])
    assert state["logged_run_id"] == run.info.run_id
    assert run.data.tags["execution_id"] == execution_id
    assert [r["step"] for r in state["steps"]] == list(STEPS)
    stored = workflow_services.artifacts.by_execution(execution_id)
    assert sorted(a.type for a in stored) == ["chart", "chart", "llm", "market_data",
                                              "market_data", "order", "signal"]
    assert {(a.run_id, a.experiment_id) for a in stored} == {(run.info.run_id,
                                                              run.info.experiment_id)}
    assert run.data.tags[ARTIFACT_IDS_TAG] == ",".join(str(a.id) for a in stored)
    assert run.data.params["symbol"] == "TSLA" and run.data.params["analyst"] == "rules"
    assert run.data.metrics["confidence"] == state["signal"]["confidence"]
    assert "daily.rsi_14" in run.data.metrics and "step_ms.fetch_market_data" in run.data.metrics
    charts = [f.path for f in client.list_artifacts(run.info.run_id, "charts")]
    assert charts == ["charts/TSLA_daily.png", "charts/TSLA_weekly.png"]


def test_each_chart_names_the_market_data_window_it_was_drawn_from(workflow_services):
    state = start_inputs(WF, "TSLA", settings=workflow_services.settings)
    state = through_xcom(execute_step(WF, "fetch_market_data", "windows-1", state,
                                      services=workflow_services))
    daily = through_xcom(execute_step(WF, "generate_daily_chart", "windows-1", state,
                                      services=workflow_services))
    # A retried task runs the step again on the same inputs: nothing new is stored.
    again = execute_step(WF, "generate_daily_chart", "windows-1", state,
                         services=workflow_services)
    assert again["daily_chart"] == daily["daily_chart"]
    weekly = execute_step(WF, "generate_weekly_chart", "windows-1", daily,
                          services=workflow_services)
    stored = workflow_services.artifacts.by_execution("windows-1")
    assert [(a.type, a.name) for a in stored] == [
        ("market_data", "TSLA daily market data"), ("chart", "TSLA daily chart"),
        ("market_data", "TSLA weekly market data"), ("chart", "TSLA weekly chart")]
    bars = state["market"]["bars"]
    for ref, window in ((daily["daily_chart"], stored[0]), (weekly["weekly_chart"], stored[2])):
        assert ref["market_data_artifact_id"] == window.id
        assert workflow_services.artifacts.inputs_of(ref["artifact_id"]) == [window.id]
        assert window.step_name == f"generate_{ref['chart_type']}_chart"
        assert window.content_sha256 and window.run_id == stored[1].run_id
    md_daily, md_weekly = stored[0].payload, stored[2].payload
    assert {k: md_daily[k] for k in ("timeframe", "provider", "first_bar", "last_bar",
                                     "bar_count")} == {
        "timeframe": "daily", "provider": state["market"]["provider"],
        "first_bar": bars[0]["date"], "last_bar": bars[-1]["date"], "bar_count": len(bars)}
    assert md_daily["bars"] == [{k: b[k] for k in ("date", "open", "high", "low", "close",
                                                   "volume")} for b in bars]
    assert md_weekly["timeframe"] == "weekly" and md_weekly["bar_count"] == len(
        md_weekly["bars"]) < len(bars) / 4
    assert md_weekly["last_bar"] >= bars[-1]["date"] and sum(  # weeks end on Fridays
        b["volume"] for b in md_weekly["bars"]) == pytest.approx(sum(b["volume"] for b in bars))
    chart = workflow_services.artifacts.get(daily["daily_chart"]["artifact_id"])
    assert "bars" not in chart.payload  # the window is the input, not copied into the chart


def test_a_failed_step_fails_the_run_and_its_retry_resumes_it(workflow_services, mlflow_uri,
                                                              llm):
    client, execution_id = MlflowClient(mlflow_uri), "retry-1"
    state = start_inputs(WF, "NVDA", {"analyst": "openai"}, settings=workflow_services.settings)
    for name in STEPS[:3]:
        state = through_xcom(execute_step(WF, name, execution_id, state,
                                                 services=workflow_services))
    llm.default = llm.answer("no JSON today").replies.pop()
    with pytest.raises(StepFailed, match="step analyze_with_llm failed: .*no valid signal"):
        execute_step(WF, "analyze_with_llm", execution_id, state, services=workflow_services)
    assert client.get_run(state["run_id"]).info.status == "FAILED"
    kept = workflow_services.artifacts.by_execution(execution_id)
    assert [(a.type, a.payload.get("valid")) for a in kept] == [
        ("market_data", None), ("chart", None), ("market_data", None), ("chart", None),
        ("llm", False)]
    assert {a.run_id for a in kept} == {state["run_id"]}

    llm.default = llm.answer({"action": "SELL", "confidence": 0.6, "score": -0.4,
                              "entry_price": 100, "stop_loss": 104, "take_profit": 92,
                              "rationale": "Lower highs."}).replies.pop()
    for name in STEPS[3:]:  # the task is retried: same execution, same run
        state = through_xcom(execute_step(WF, name, execution_id, state,
                                                 services=workflow_services))
    assert client.get_run(state["run_id"]).info.status == "FINISHED"
    llm_artifact = workflow_services.artifacts.get(state["analysis"]["llm_artifact_id"])
    assert llm_artifact.payload["model_name"] == "local-vision-model"
    assert llm_artifact.payload["provider"] == "openai-compatible"
    assert llm_artifact.payload["prompt_tokens"] == 1200 and llm_artifact.payload["latency_ms"] > 0
    order = workflow_services.artifacts.get(state["order"]["artifact_id"])
    assert (order.payload["side"], order.payload["sent"], order.run_id) == (
        "SELL", False, state["run_id"])


def test_hold_places_no_order_and_buy_records_a_paper_one(workflow_services):
    base = start_inputs(WF, "MSFT", settings=workflow_services.settings)
    hold = {"action": "HOLD", "confidence": 0.5, "score": 0.02, "rationale": "mixed"}
    out = execute_step(WF, "place_order", "hold-1", {**base, "signal": hold},
                       services=workflow_services)
    assert out["order"] == {"status": "skipped", "broker": "paper", "artifact_id": None,
                            "reason": "signal is HOLD: no order placed"}
    assert workflow_services.artifacts.by_execution("hold-1") == []
    buy = {"action": "BUY", "confidence": 0.8, "score": 0.5, "entry_price": 200,
           "stop_loss": 190, "take_profit": 220, "rationale": "breakout"}
    out = execute_step(WF, "place_order", "buy-1", {**base, "signal": buy},
                       services=workflow_services)
    [order] = workflow_services.artifacts.by_execution("buy-1")
    assert order.id == out["order"]["artifact_id"] and order.type == "order"
    assert order.payload == {"side": "BUY", "quantity": 10, "order_type": "LMT",
                             "limit_price": 200.0, "stop_loss": 190.0, "take_profit": 220.0,
                             "broker": "paper", "status": "recorded", "sent": False}


def test_bad_step_inputs_fail_the_step_clearly(workflow_services):
    with pytest.raises(StepFailed, match="generate_daily_chart failed: .*market"):
        execute_step(WF, "generate_daily_chart", "bad-inputs", {"symbol": "TSLA"},
                     services=workflow_services)


def test_run_workflow_reports_each_step(workflow_services, mlflow_uri):
    events = []
    result = run_workflow(WF, "AMZN", "inproc-1", on_step=events.append,
                          services=workflow_services)
    assert result.status == "FINISHED" and result.execution_id == "inproc-1"
    assert [(e.step, e.status) for e in events] == [
        (s, status) for s in STEPS for status in ("running", "succeeded")]
    assert all(e.duration_ms >= 0 for e in events if e.status == "succeeded")
    assert [a["type"] for a in result.to_json()["artifacts"]] == [
        "market_data", "chart", "market_data", "chart", "llm", "signal", "order"]
    assert MlflowClient(mlflow_uri).get_run(result.run_id).info.status == "FINISHED"


def test_run_workflow_failure_carries_the_failed_result(workflow_services, mlflow_uri, tmp_path):
    bad = tmp_path / "short.csv"
    bad.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,100\n")
    with pytest.raises(WorkflowFailed, match="fetch_market_data failed: TSLA: 1 daily bars") \
            as caught:
        run_workflow(WF, "TSLA", "inproc-fail", services=workflow_services,
                     params={"market_data_provider": "csv", "market_data_csv": str(bad)})
    result = caught.value.result
    assert (result.status, result.artifacts) == ("FAILED", [])
    assert MlflowClient(mlflow_uri).get_run(result.run_id).info.status == "FAILED"


def test_unknown_parameters_are_rejected_before_any_run(workflow_services):
    with pytest.raises(ValueError, match="unknown workflow parameter.*colour"):
        start_inputs(WF, "TSLA", {"colour": "red"}, settings=workflow_services.settings)
