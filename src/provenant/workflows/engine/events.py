"""What the runner reports: per-step events, step failures and an execution's result."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provenant.lineage.context import RunContext
from provenant.store.repository import ArtifactRepository


@dataclass(frozen=True)
class StepEvent:
    """A step changed state: running, retrying, succeeded or failed."""

    workflow_id: str
    execution_id: str
    symbol: str | None
    step: str
    status: str
    attempt: int
    duration_ms: float | None = None
    summary: str = ""
    error: str | None = None


class StepFailed(RuntimeError):
    """A step raised; its execution's MLflow run is marked FAILED."""

    def __init__(self, step: str, run: RunContext, attempts: int, cause: BaseException) -> None:
        reason = str(cause) or type(cause).__name__
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"step {step} failed{tries}: {reason}")
        self.step, self.run_id, self.attempts, self.cause = step, run.run_id, attempts, cause


@dataclass
class WorkflowResult:
    """One execution's outcome: its run, status and the artifacts it stored."""

    workflow_id: str
    execution_id: str
    symbol: str
    run_id: str | None
    experiment_id: str | None
    status: str  # FINISHED or FAILED, as in MLflow
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def collect(cls, repository: ArtifactRepository, workflow_id: str, execution_id: str, symbol: str,
                run: RunContext | None, status: str, state: dict[str, Any],
                error: str | None = None) -> "WorkflowResult":
        """The result, with every artifact stored under this execution (also before a failure)."""
        stored = [a for a in repository.by_execution(execution_id)
                  if a.workflow_id == workflow_id]
        return cls(workflow_id, execution_id, symbol, run.run_id if run else None,
                   run.experiment_id if run else None, status,
                   [{"id": a.id, "type": str(a.type), "name": a.name} for a in stored],
                   state, error)

    def to_json(self) -> dict[str, Any]:
        """The CONTRACT's JSON object (plus `error` when the execution failed)."""
        data = {"workflow_id": self.workflow_id, "execution_id": self.execution_id,
                "run_id": self.run_id, "experiment_id": self.experiment_id,
                "status": self.status, "artifacts": self.artifacts}
        if self.error:
            data["error"] = self.error
        return data


class WorkflowFailed(RuntimeError):
    """An in-process execution failed; `.result` is its FAILED result."""

    def __init__(self, result: WorkflowResult) -> None:
        super().__init__(f"{result.symbol} ({result.execution_id}): {result.error}")
        self.result = result
