"""The engine-agnostic step runner: one step per call (Airflow) or all in-process (CLI).

Interface for execution engines::

    from provenant.workflows import execute_step, get_workflow, run_workflow, start_inputs

    workflow = get_workflow("ibkr_trading_signal_workflow")
    workflow.step_names     # ("fetch_market_data", ..., "log_to_mlflow"), in order

    # One step per task (each may run in its own process), state travelling by XCom:
    services = get_services()  # or any object with the parts of WorkflowDeps
    state = start_inputs(workflow.workflow_id, "TSLA", params={"analyst": "rules"},
                         settings=services.settings)
    for name in workflow.step_names:
        state = execute_step(workflow.workflow_id, name, execution_id, state,
                             services=services)
    state["run_id"], state["experiment_id"]

    # Or everything in this process:
    result = run_workflow("ibkr_trading_signal_workflow", "TSLA", services=services,
                          on_step=print)

``execute_step(workflow_id, step_name, execution_id, inputs, *, services, run_id=None)``
runs ONE step inside ``mlflow_run_context(workflow_id, execution_id, run_id=run_id,
end_run=<step is the last>)``: the first step opens (or resumes) the execution's run, the
last ends it FINISHED, a failing step marks it FAILED and raises :class:`StepFailed`.
``inputs`` is the state dict the previous step returned (``start_inputs(...)`` for the
first; a bare ``{"symbol": "TSLA"}`` also works, parameters then come from settings). The
return value is that state plus the step's outputs, plus ``run_id``, ``experiment_id``
and a ``steps`` timing record: pass it on unchanged. ``run_id`` defaults to
``inputs["run_id"]``. Everything in the state is JSON-serializable (chart images stay in
the blob store, referenced by artifact id). Parameters (``params``: market data provider,
analyst, broker, ...) default to settings and are fixed at the start of the execution.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from provenant.config import Settings
from provenant.domain.errors import describe_errors
from provenant.domain.market import normalize_symbol
from provenant.lineage.context import RunContext, run_context
from provenant.workflows.engine.events import StepEvent, StepFailed, WorkflowFailed, WorkflowResult
from provenant.workflows.engine.registry import get_workflow
from provenant.workflows.engine.steps import (
    Step, StepContext, Workflow, WorkflowDeps, run_opener)

StepCallback = Callable[[StepEvent], None]


def default_execution_id(now: datetime | None = None) -> str:
    """``manual__<UTC ISO-8601>`` (microseconds, so two runs a second apart never share it)."""
    return f"manual__{(now or datetime.now(UTC)).astimezone(UTC).isoformat()}"


def start_inputs(workflow_id: str, symbol: str, params: dict[str, Any] | None = None, *,
                 settings: Settings) -> dict[str, Any]:
    """The first step's inputs: the normalized symbol and the run's resolved parameters.

    Raises ValueError for inputs the workflow refuses (e.g. a symbol without market data),
    so that a bad request never opens an MLflow run.
    """
    workflow = get_workflow(workflow_id)
    resolved = workflow.resolve_params(settings, dict(params or {}))
    symbol = normalize_symbol(symbol)
    if workflow.check_inputs is not None:
        workflow.check_inputs(symbol, resolved)
    return {"symbol": symbol, "params": resolved.model_dump(mode="json")}


def execute_step(workflow_id: str, step_name: str, execution_id: str, inputs: dict[str, Any],
                 *, services: WorkflowDeps, run_id: str | None = None,
                 on_step: StepCallback | None = None) -> dict[str, Any]:
    """Run one step inside the execution's MLflow run; return the state for the next step."""
    workflow = get_workflow(workflow_id)
    step = workflow.step(step_name)
    state = dict(inputs)
    if "params" not in state:
        state = {**state, **start_inputs(workflow_id, state.get("symbol", ""),
                                         settings=services.settings)}
    with run_context(run_opener(services), workflow_id, execution_id,
                     run_id=run_id or state.get("run_id"),
                     end_run=workflow.is_last(step_name)) as run:
        return _run_step(workflow, step, state, run, services, on_step)


def run_workflow(workflow_id: str, symbol: str, execution_id: str | None = None, *,
                 services: WorkflowDeps, params: dict[str, Any] | None = None,
                 on_step: StepCallback | None = None) -> WorkflowResult:
    """Run every step in this process inside one MLflow run opened before the first step.

    Returns the FINISHED result; raises WorkflowFailed (carrying the FAILED result) when a
    step fails.
    """
    workflow = get_workflow(workflow_id)
    execution_id = execution_id or default_execution_id()
    state = start_inputs(workflow_id, symbol, params, settings=services.settings)
    run: RunContext | None = None
    try:
        with run_context(run_opener(services), workflow_id, execution_id) as run:
            for step in workflow.steps:
                state = execute_step(workflow_id, step.name, execution_id, state,
                                     run_id=run.run_id, on_step=on_step, services=services)
    except StepFailed as exc:
        result = WorkflowResult.collect(services.artifacts, workflow_id, execution_id,
                                        state["symbol"], run, "FAILED", state, error=str(exc))
        raise WorkflowFailed(result) from exc
    return WorkflowResult.collect(services.artifacts, workflow_id, execution_id,
                                  state["symbol"], run, "FINISHED", state)


def _run_step(workflow: Workflow, step: Step, state: dict[str, Any], run: RunContext,
              services: WorkflowDeps, on_step: StepCallback | None) -> dict[str, Any]:
    emit = on_step or (lambda event: None)
    symbol = state.get("symbol")

    def event(status: str, attempt: int, started: float, **extra) -> StepEvent:
        elapsed = round((time.perf_counter() - started) * 1000, 1) if started else None
        return StepEvent(workflow.workflow_id, run.execution_id, symbol, step.name, status,
                         attempt, elapsed, **extra)

    context = StepContext(workflow.workflow_id, run.execution_id, step.name, run, services)
    attempt, started = 0, time.perf_counter()
    try:
        inputs = step.inputs.model_validate(state)
    except ValidationError as exc:
        problems = describe_errors(exc.errors())
        error = ValueError(f"invalid inputs ({problems}); pass the previous step's state")
        emit(event("failed", 1, started, error=str(error)))
        raise StepFailed(step.name, run, 1, error) from exc
    while True:
        attempt += 1
        emit(event("running", attempt, 0))
        try:
            outputs = step.run(context, inputs)
            break
        except step.retry_on as exc:
            if attempt > step.retries:
                emit(event("failed", attempt, started, error=str(exc)))
                raise StepFailed(step.name, run, attempt, exc) from exc
            emit(event("retrying", attempt, started, error=str(exc)))
            time.sleep(step.retry_delay_seconds * attempt)
        except Exception as exc:
            emit(event("failed", attempt, started, error=str(exc)))
            raise StepFailed(step.name, run, attempt, exc) from exc
    done = event("succeeded", attempt, started, summary=outputs.summary())
    emit(done)
    record = {"step": step.name, "attempts": attempt, "duration_ms": done.duration_ms}
    return {**state, **outputs.model_dump(mode="json"), "run_id": run.run_id,
            "experiment_id": run.experiment_id, "steps": [*state.get("steps", []), record]}
