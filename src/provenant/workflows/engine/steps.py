"""The vocabulary of workflows: steps with typed inputs and outputs, and their context."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from provenant.adapters.blobs import BlobStore
from provenant.adapters.tracking import Tracker
from provenant.config import Settings
from provenant.lineage.context import RunContext, RunOpener
from provenant.service.storing import ArtifactWriter
from provenant.store.execution_runs import ExecutionRunRegistry
from provenant.store.repository import ArtifactRepository


class WorkflowDeps(Protocol):
    """The parts a workflow runs on (the composition root's services provide them)."""

    settings: Settings
    artifacts: ArtifactRepository
    execution_runs: ExecutionRunRegistry
    blobs: BlobStore
    tracker: Tracker


def run_opener(deps: WorkflowDeps) -> RunOpener:
    return RunOpener(deps.tracker, deps.execution_runs)


class StepInputs(BaseModel):
    """A step's typed view of the execution state; keys other steps produced are ignored."""

    model_config = ConfigDict(extra="ignore")


class StepOutputs(BaseModel):
    """What a step adds to the execution state (JSON-serializable by construction)."""

    def summary(self) -> str:
        """One short line for progress displays."""
        return ""


@dataclass(frozen=True)
class StepContext:
    """What a running step may use: its execution's ids, the open MLflow run and its parts."""

    workflow_id: str
    execution_id: str
    step_name: str
    run: RunContext
    deps: WorkflowDeps

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @cached_property
    def writer(self) -> ArtifactWriter:
        """Stores artifacts inside the open run (their lineage needs no tracking call)."""
        deps = self.deps
        return ArtifactWriter(deps.artifacts, deps.blobs, deps.tracker, deps.execution_runs)


@dataclass(frozen=True)
class Step:
    """A named unit of work: ``run(context, inputs) -> outputs``, retried on transient errors."""

    name: str
    run: Callable[[StepContext, Any], StepOutputs]
    inputs: type[StepInputs]
    outputs: type[StepOutputs]
    retries: int = 0
    retry_delay_seconds: float = 2.0
    retry_on: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


@dataclass(frozen=True)
class Workflow:
    """An ordered list of steps and how to turn settings + overrides into run parameters."""

    workflow_id: str
    description: str
    steps: tuple[Step, ...]
    resolve_params: Callable[[Settings, dict[str, Any]], BaseModel]
    # Checks (symbol, params) before the execution's run opens: raise ValueError to refuse.
    check_inputs: Callable[[str, Any], None] | None = None

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def step(self, name: str) -> Step:
        """The step called `name`; LookupError naming the valid ones otherwise."""
        for step in self.steps:
            if step.name == name:
                return step
        raise LookupError(f"workflow {self.workflow_id} has no step {name!r}; its steps are "
                          f"{', '.join(self.step_names)}")

    def is_last(self, name: str) -> bool:
        return self.steps[-1].name == name
