"""Verify stored lineage: every run an artifact names exists and is tagged for it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from provenant.bootstrap import Services
from provenant.domain.artifacts import Artifact
from provenant.domain.lineage import is_valid_run_id
from provenant.adapters.mlflow_tracker import EXECUTION_TAG, WORKFLOW_TAG, TrackingUnavailable

_LOOKUP_CHUNK = 500  # artifacts read per step; their distinct runs are fetched 100 per call


@dataclass(frozen=True, slots=True)
class Mismatch:
    artifact_id: int
    run_id: str
    experiment_id: str | None
    problem: str


@dataclass(frozen=True, slots=True)
class _RunFacts:
    experiment_id: str
    tags: dict[str, str]


@dataclass
class VerifyReport:
    """Artifacts checked, the runs they name, and every disagreement found."""

    checked: int = 0
    runs: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    tracking_calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.errors

    def to_dict(self) -> dict:
        return asdict(self)


def verify_lineage(services: Services) -> VerifyReport:
    """Check each artifact with lineage against its MLflow run (runs fetched in batches)."""
    report = VerifyReport()
    calls_before = services.tracker.calls
    runs: dict[str, _RunFacts | None] = {}  # each distinct run is fetched once
    try:
        experiment_ids = services.tracker.active_experiment_ids()
        for chunk in _with_lineage(services, _LOOKUP_CHUNK):
            new_ids = sorted({a.run_id for a in chunk} - runs.keys())
            fetched = services.tracker.runs_by_id(new_ids, experiment_ids) if new_ids else {}
            for run_id in new_ids:
                run = fetched.get(run_id)
                runs[run_id] = _RunFacts(run.info.experiment_id, run.data.tags) if run else None
            report.checked += len(chunk)
            for artifact in chunk:
                problem = _problem(artifact, runs[artifact.run_id])
                if problem:
                    report.mismatches.append(Mismatch(artifact.id, artifact.run_id,
                                                      artifact.experiment_id, problem))
    except TrackingUnavailable as exc:
        report.errors.append(str(exc))
    report.runs = len(runs)
    report.tracking_calls = services.tracker.calls - calls_before
    return report


def _with_lineage(services: Services, size: int):
    """Artifacts that name a run, `size` at a time, newest first."""
    cursor = None
    chunk: list[Artifact] = []
    while True:
        items, cursor = services.artifacts.list(limit=1000, cursor=cursor)
        chunk.extend(a for a in items if a.run_id)
        while len(chunk) >= size:
            yield chunk[:size]
            chunk = chunk[size:]
        if cursor is None:
            break
    if chunk:
        yield chunk


def _problem(artifact: Artifact, run: _RunFacts | None) -> str | None:
    """Why the run does not fit the artifact, or None when it does."""
    if not is_valid_run_id(artifact.run_id):
        return "run_id is not a valid MLflow run id"
    if run is None:
        return "run does not exist (or was deleted, or its experiment was)"
    if run.experiment_id != artifact.experiment_id:
        return (f"run belongs to experiment {run.experiment_id}, "
                f"artifact says {artifact.experiment_id}")
    tags = run.tags
    if artifact.execution_id is not None and tags.get(EXECUTION_TAG) != artifact.execution_id:
        return (f"run's execution_id tag is {tags.get(EXECUTION_TAG)!r}, "
                f"artifact's is {artifact.execution_id!r}")
    run_workflow = tags.get(WORKFLOW_TAG)
    if (artifact.workflow_id is not None and run_workflow is not None
            and run_workflow != artifact.workflow_id):
        return f"run's workflow_id tag is {run_workflow!r}, artifact's is {artifact.workflow_id!r}"
    return None
