"""Verify stored lineage: every run an artifact names exists and, by the resolver's rule, fits."""
from __future__ import annotations

from collections.abc import Iterator

from provenant.adapters.blobs import BlobStore
from provenant.lineage.integrity import IntegrityCheck
from provenant.adapters.tracking import TrackedRun, Tracker, TrackingUnavailable
from provenant.domain.artifacts import Artifact
from provenant.domain.lineage import is_valid_run_id
from provenant.domain.reports import Mismatch, VerifyReport
from provenant.lineage.resolve import mismatch
from provenant.store.repository import ArtifactRepository

_LOOKUP_CHUNK = 500  # artifacts read per step; their distinct runs are fetched 100 per call


def verify_lineage(repository: ArtifactRepository, tracker: Tracker,
                   blobs: BlobStore | None = None, deep: bool = False) -> VerifyReport:
    """Check each artifact with lineage against its MLflow run (runs fetched in batches),
    and every artifact's content against its hash and its run's manifest (`deep`: the
    manifest file of every run, even one whose inline copy matches its recorded hash)."""
    report = VerifyReport()
    integrity = IntegrityCheck(repository, tracker, blobs, deep)
    calls_before = tracker.calls
    runs: dict[str, TrackedRun | None] = {}  # each distinct run is fetched once
    try:
        experiment_ids = tracker.experiment_ids()
        for chunk in _in_chunks(repository, _LOOKUP_CHUNK):
            new_ids = sorted({a.run_id for a in chunk if a.run_id} - runs.keys())
            fetched = tracker.runs_by_id(new_ids, experiment_ids) if new_ids else {}
            runs.update((run_id, fetched.get(run_id)) for run_id in new_ids)
            report.checked += sum(1 for a in chunk if a.run_id)
            report.mismatches.extend(
                Mismatch(artifact_id=a.id, run_id=a.run_id, experiment_id=a.experiment_id,
                         problem=problem)
                for a in chunk if a.run_id and (problem := run_problem(a, runs[a.run_id])))
            report.mismatches.extend(integrity.chunk(chunk, runs))
        report.mismatches.extend(integrity.missing())
    except TrackingUnavailable as exc:
        report.errors.append(str(exc))
    report.revised = integrity.revised
    report.runs = len(runs)
    report.tracking_calls = tracker.calls - calls_before
    return report


def _in_chunks(repository: ArtifactRepository, size: int) -> Iterator[list[Artifact]]:
    """Every artifact, `size` at a time, newest first."""
    cursor = None
    chunk: list[Artifact] = []
    while True:
        items, cursor = repository.list(limit=1000, cursor=cursor)
        chunk.extend(items)  # all: content is checked with or without lineage
        while len(chunk) >= size:
            yield chunk[:size]
            chunk = chunk[size:]
        if cursor is None:
            break
    if chunk:
        yield chunk


def run_problem(artifact: Artifact, run: TrackedRun | None) -> str | None:
    """Why the run does not fit the artifact, or None when it does."""
    if not is_valid_run_id(artifact.run_id or ""):
        return "run_id is not a valid MLflow run id"
    if run is None:
        return "run does not exist (or was deleted, or its experiment was)"
    if run.experiment_id != artifact.experiment_id:
        return (f"run belongs to experiment {run.experiment_id}, "
                f"artifact says {artifact.experiment_id}")
    return mismatch(run.tags, artifact.workflow_id, artifact.execution_id)
