"""Verify stored lineage: every run an artifact names exists and, by the resolver's rule, fits."""
from __future__ import annotations

from contextlib import closing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from provenant.adapters.blobs import BlobStore
from provenant.lineage.integrity import IntegrityCheck
from provenant.adapters.tracking import TrackedRun, Tracker, TrackingUnavailable
from provenant.domain.artifacts import Artifact
from provenant.domain.lineage import is_valid_run_id
from provenant.domain.reports import Mismatch, VerifyReport
from provenant.lineage.resolve import mismatch
from provenant.pipeline import in_order
from provenant.store.repository import ArtifactRepository

# Artifacts read per step; their runs not fetched yet are searched together. The MLflow
# tracker asks 100 ids per call and a run logs several artifacts (4 to 7 in the workflow), so
# that is one call per chunk.
_LOOKUP_CHUNK = 400
# Run searches in flight while a chunk is checked locally: the tracking server works for the
# next chunks meanwhile (and a multi-worker server answers two at once), like manifest reads.
SEARCHES_AHEAD = 2


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
        searched = _with_runs(_in_chunks(repository, _LOOKUP_CHUNK), tracker, experiment_ids)
        with closing(searched):  # an outage here stops the searches still ahead
            for chunk, new_ids, fetched in searched:
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


Searched = tuple[list[Artifact], list[str], dict[str, TrackedRun]]


def _with_runs(chunks: Iterable[list[Artifact]], tracker: Tracker,
               experiment_ids: list[str]) -> Iterator[Searched]:
    """Each chunk with the ids of the runs first named in it and those of them found, in
    order; the searches run `SEARCHES_AHEAD` chunks ahead, on threads, so each run is
    still asked for once."""
    def searches() -> Iterator[Callable[[], Searched]]:
        requested: set[str] = set()
        for chunk in chunks:
            new_ids = sorted({a.run_id for a in chunk if a.run_id} - requested)
            requested.update(new_ids)
            yield partial(_search, tracker, experiment_ids, chunk, new_ids)

    with ThreadPoolExecutor(SEARCHES_AHEAD, thread_name_prefix="verify-search") as pool:
        # Stopped early (an outage): the searches not started yet are dropped.
        yield from in_order(pool, searches(), ahead=SEARCHES_AHEAD)


def _search(tracker: Tracker, experiment_ids: list[str], chunk: list[Artifact],
            new_ids: list[str]) -> Searched:
    return chunk, new_ids, tracker.runs_by_id(new_ids, experiment_ids) if new_ids else {}


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
