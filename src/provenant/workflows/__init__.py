"""Workflows: a step runner and ibkr_trading_signal_workflow with its providers.

The engine interface (documented in :mod:`provenant.workflows.engine.runner`)::

    get_workflow(workflow_id) -> Workflow          # .step_names, in order
    start_inputs(workflow_id, symbol, params=None, *, settings) -> dict
    execute_step(workflow_id, step_name, execution_id, inputs, *, services, run_id=None) -> dict
    run_workflow(workflow_id, symbol, execution_id=None, *, services, params=None,
                 on_step=None) -> WorkflowResult   # raises WorkflowFailed

``services`` is any object with the parts of ``WorkflowDeps`` (the entrypoints pass the
composition root's services).
"""
from provenant.workflows.engine.events import StepEvent, StepFailed, WorkflowFailed, WorkflowResult
from provenant.workflows.engine.registry import UnknownWorkflow, get_workflow, list_workflows
from provenant.workflows.engine.runner import (
    default_execution_id, execute_step, run_workflow, start_inputs)

__all__ = ["StepEvent", "StepFailed", "UnknownWorkflow", "WorkflowFailed", "WorkflowResult",
           "default_execution_id", "execute_step", "get_workflow", "list_workflows",
           "run_workflow", "start_inputs"]
