"""The workflows this installation can run, by id."""
from __future__ import annotations

from provenant.workflows.engine.steps import Workflow


class UnknownWorkflow(LookupError):
    """No workflow has this id."""


def _workflows() -> dict[str, Workflow]:
    from provenant.workflows.ibkr_signal.steps import WORKFLOW as ibkr_signal

    return {w.workflow_id: w for w in (ibkr_signal,)}


def list_workflows() -> list[Workflow]:
    """Every registered workflow, by id."""
    return sorted(_workflows().values(), key=lambda w: w.workflow_id)


def get_workflow(workflow_id: str) -> Workflow:
    """The workflow with this id; UnknownWorkflow lists the available ones otherwise."""
    workflows = _workflows()
    if workflow_id not in workflows:
        raise UnknownWorkflow(f"unknown workflow {workflow_id!r}; available: "
                              f"{', '.join(sorted(workflows))}")
    return workflows[workflow_id]
