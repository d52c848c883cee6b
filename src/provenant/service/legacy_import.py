"""Import the previous system's artifacts: same ids, every filled column kept, lineage kept where
present, images found where they now live. An id held by a different artifact is a conflict."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from provenant.adapters.blobs import BlobStore
from provenant.adapters.s3_objects import s3_client
from provenant.adapters.tracking import Tracker, TrackingUnavailable
from provenant.domain.artifacts import Artifact, NewArtifact
from provenant.domain.errors import describe_error
from provenant.domain.legacy import LegacyShapeError, typed_payload
from provenant.domain.reports import Collect, ImportReport, Recorder, ReportSink, RowProblem
from provenant.pipeline import bulk_gc, collect_less, in_order
from provenant.service.provenance import infer_imported_chains
from provenant.service.images import put_image
from provenant.service.legacy_images import ImageSources, load_image
from provenant.store.legacy import LegacySource
from provenant.store.repository import ArtifactRepository, IntegrityError

# Images are fetched a few at a time and stored at once, so memory holds at most this many.
IMAGE_WORKERS = 8
# Below this many rows a process pool costs more to start than it saves.
PARALLEL_FROM_ROWS = 50_000
# Parts a page worker process builds for itself: repository, blob store, tracker.
Parts = tuple[ArtifactRepository, BlobStore, Tracker]


@dataclass
class _Converted:
    artifact: NewArtifact
    image_path: str | None
    image: tuple[str | None, str | None] = (None, None)


@dataclass(frozen=True)
class _Target:
    """Where imported artifacts go, and how."""

    repository: ArtifactRepository
    blobs: BlobStore
    tracker: Tracker
    images: ImageSources
    dry_run: bool
    write_lock: Any = field(default_factory=nullcontext)  # see _Job


@dataclass(frozen=True)
class _Job:
    """What every page of one import needs: plain values, so a worker process can take it."""

    source_url: str
    images_root: Path | None
    image_path_map: tuple[tuple[str, str], ...]
    fetch_prefixes: tuple[str, ...]
    s3_endpoint_url: str | None
    dry_run: bool
    open_parts: Callable[[], Parts] | None = None
    # Writers take turns through this lock when pages are written by several processes:
    # SQLite's busy handler sleeps up to 100 ms between tries, which left them idle.
    write_lock: Any = field(default_factory=nullcontext)

    def images(self) -> ImageSources:
        return ImageSources(self.images_root, self.image_path_map, self.fetch_prefixes,
                            s3_endpoint_url=self.s3_endpoint_url)

    def target(self, repository: ArtifactRepository, blobs: BlobStore,
               tracker: Tracker) -> _Target:
        """Where this job's pages go, with these parts (this process's or a worker's)."""
        return _Target(repository, blobs, tracker, self.images(), self.dry_run,
                       self.write_lock)


@dataclass
class _PageDone:
    """One page imported: its report items in order, and the executions it wrote to."""

    last_id: int
    rows: int
    items: Recorder
    executions: set[str]


def import_legacy(repository: ArtifactRepository, blobs: BlobStore, tracker: Tracker,
                  source_url: str, *, images_root: Path | None = None,
                  image_path_map: Iterable[tuple[str, str]] = (),
                  fetch_prefixes: Iterable[str] = (), s3_endpoint_url: str | None = None,
                  dry_run: bool = False, progress: Callable[[int, int], None] | None = None,
                  page_size: int = 1000, sink: ReportSink | None = None,
                  workers: int | None = 0,
                  open_parts: Callable[[], Parts] | None = None) -> ImportReport:
    """Copy the legacy `artifacts` table in, page by page (with `dry_run`, only say what would).

    Each page is read, converted and written in one transaction, here one after another, or
    by `workers` processes at once (None: `auto_workers`, as the CLI does), each building its
    parts with the picklable `open_parts`. Workers are spawned: a script that asks for them
    must guard its main module (`if __name__ == "__main__":`). Results are taken in page
    order: this process infers each page's decision chains and hands its `imported`,
    `skipped`, `failed` and `warnings` items to `sink` (default: the returned report's own
    lists), so memory holds a few pages whatever the table's size. Raises S3ExtraMissing
    before anything is read when an s3:// prefix is named without boto3.
    """
    job = _Job(source_url, images_root, tuple(image_path_map), tuple(fetch_prefixes),
               s3_endpoint_url, dry_run, open_parts)
    if job.images().uses_s3:
        s3_client(s3_endpoint_url)  # fails early, once, rather than as a warning per row
    source = LegacySource(source_url)
    report = ImportReport(source=source.label, dry_run=dry_run)
    sink = sink or Collect(report)
    with closing(source), bulk_gc():
        report.total = source.count()
        if workers is None:
            workers = auto_workers(report.total)
        if workers < 2 or open_parts is None:
            workers = 0
        else:
            job = replace(job, write_lock=multiprocessing.get_context("spawn").Lock())
        target = job.target(repository, blobs, tracker)
        checked = not dry_run and repository.has_upward_edges()
        done = 0
        for page in _pages_done(job, target, source, page_size, workers):
            page.items.replay(sink)
            if not dry_run and page.executions:
                # Later pages may be written already: the chains stop at this page's end.
                with target.write_lock:
                    report.inferred_edges += infer_imported_chains(
                        repository, page.executions, checked, max_id=page.last_id)
            done += page.rows
            if progress:
                progress(done, report.total)
    return report


def auto_workers(rows: int) -> int:
    """Worker processes for a table of `rows`: none below PARALLEL_FROM_ROWS, else one per CPU,
    up to 4 (on 2 quiet CPUs, 2 workers imported 1.7x faster than one process; on CPUs other
    work keeps busy they gain nothing)."""
    return min(os.cpu_count() or 1, 4) if rows >= PARALLEL_FROM_ROWS else 0


def _pages_done(job: _Job, target: _Target, source: LegacySource, page_size: int,
                workers: int) -> Iterator[_PageDone]:
    """Every page imported, in page order: here (the next page read meanwhile), or by worker
    processes (a few pages ahead)."""
    bounds = source.pages(page_size)
    if not workers:
        with (ThreadPoolExecutor(1, thread_name_prefix="legacy-read") as reader,
              ThreadPoolExecutor(IMAGE_WORKERS, thread_name_prefix="legacy-image") as images):
            # Two pages in memory at most: this one, and the next read by the database.
            reads = (partial(_read_page, source, *bound) for bound in bounds)
            for last, page in in_order(reader, reads, ahead=1):
                yield _import_page(target, page, images, last)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(job,))
    try:
        # Two pages a worker: one running, one queued, so none waits while this process
        # takes a page's results (a page's result is its report items, not its rows).
        yield from in_order(pool, (partial(_worker_page, *bound) for bound in bounds),
                            ahead=2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _read_page(source: LegacySource, after: int | None,
               last: int) -> tuple[int, list[dict[str, Any]]]:
    return last, source.rows(after, last)


def _import_page(target: _Target, page: list[dict[str, Any]], images: ThreadPoolExecutor,
                 last: int) -> _PageDone:
    """Convert and write one page (one transaction); its report items kept in order."""
    items = Recorder()
    converted = []
    for row in page:
        try:
            converted.append(_convert(target, row, items))
        except (LegacyShapeError, ValidationError) as exc:
            items.add("failed", RowProblem(id=row["id"], reason=describe_error(exc, "row")))
    converted = _new_only(target, converted, items)
    _attach_images(target, images, converted, items)
    imported = _insert(target, converted, items)
    return _PageDone(last, len(page), items,
                     {a.execution_id for a in imported if a.execution_id})


# A worker process's own target, source and image threads (set once by _start_worker).
_worker: tuple[_Target, LegacySource, ThreadPoolExecutor] | None = None


def _start_worker(job: _Job) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    collect_less()
    _worker = (job.target(*job.open_parts()), LegacySource(job.source_url),
               ThreadPoolExecutor(IMAGE_WORKERS, thread_name_prefix="legacy-image"))


def _worker_page(after: int | None, last: int) -> _PageDone:
    target, source, images = _worker
    return _import_page(target, source.rows(after, last), images, last)


def _new_only(target: _Target, converted: list[_Converted],
              sink: ReportSink) -> list[_Converted]:
    """Drop rows imported before (skipped) and rows whose id another artifact holds (failed)."""
    held = {a.id: a for a in target.repository.get_many(c.artifact.id for c in converted)}
    fresh = []
    for item in converted:
        existing = held.get(item.artifact.id)
        if existing is None:
            fresh.append(item)
        elif _same(existing, item.artifact):
            sink.add("skipped", existing.id)
        else:
            sink.add("failed", RowProblem(id=existing.id, reason=_conflict(existing)))
    return fresh


def _same(existing: Artifact, new: NewArtifact) -> bool:
    """The stored artifact is this legacy row, imported before."""
    return ((existing.type, existing.name, existing.execution_id)
            == (new.type, new.name, new.execution_id)
            and new.created_at in (None, existing.created_at))


def _conflict(existing: Artifact) -> str:
    return (f"conflict: id {existing.id} is held by a different artifact ({existing.type} "
            f"{existing.name!r} of {existing.created_at.isoformat()}); nothing of this row "
            f"was written")


def _attach_images(target: _Target, pool: ThreadPoolExecutor, converted: list[_Converted],
                   sink: ReportSink) -> None:
    """Find each chart's image concurrently; store it at once so only the workers hold bytes."""
    with_images = [c for c in converted if c.image_path]
    for item, (stored, warning) in zip(with_images, pool.map(
            lambda c: _image(target, c.image_path), with_images)):
        item.image = stored
        if warning:
            sink.add("warnings", RowProblem(id=item.artifact.id, reason=warning))


def _image(target: _Target, image_path: str) -> tuple[tuple[str | None, str | None], str | None]:
    data, warning = load_image(image_path, target.images)
    if data is None or target.dry_run:
        return (None, None), warning
    return put_image(target.blobs, data), None  # blob first: a row never points at nothing


def _insert(target: _Target, converted: list[_Converted],
            sink: ReportSink) -> list[NewArtifact]:
    """The page's new rows in one transaction; returns them."""
    if converted and not target.dry_run:
        try:
            _add(target, converted)
        except IntegrityError:
            # Another writer took some of these ids meanwhile: sort them out, insert the rest.
            converted = _new_only(target, converted, sink)
            _add(target, converted)
    for item in converted:
        sink.add("imported", item.artifact.id)
    return [c.artifact for c in converted]


def _add(target: _Target, converted: list[_Converted]) -> None:
    target.repository.add_many([c.artifact for c in converted], [c.image for c in converted],
                               fetch=False, turn=target.write_lock)


def _convert(target: _Target, row: dict[str, Any], sink: ReportSink) -> _Converted:
    if not isinstance(row["id"], int) or row["id"] < 1:
        raise LegacyShapeError(f"id {row['id']!r} is not a positive integer")
    kind = _text(row.get("type"))
    wide = {**row, "chart_data": _json(row, "chart_data"),
            "signal_data": _json(row, "signal_data"), "metadata": _json(row, "artifact_metadata")}
    artifact_type, payload = typed_payload(kind, wide)
    image_path = _text(row.get("image_path"))
    if image_path:
        payload["legacy_image_path"] = image_path
    run_id, experiment_id = _lineage(target, row, payload, sink)
    artifact = NewArtifact(
        id=row["id"], type=artifact_type,
        name=_text(row.get("name")) or f"legacy {kind} {row['id']}",
        symbol=_text(row.get("symbol")), workflow_id=_text(row.get("workflow_id")),
        execution_id=_text(row.get("execution_id")), step_name=_text(row.get("step_name")),
        dag_id=_text(row.get("dag_id")), task_id=_text(row.get("task_id")),
        run_id=run_id, experiment_id=experiment_id, payload=payload,
        created_at=_datetime(row, "created_at"), updated_at=_datetime(row, "updated_at"))
    return _Converted(artifact, image_path)


def _lineage(target: _Target, row: dict[str, Any], payload: dict[str, Any],
             sink: ReportSink) -> tuple[str | None, str | None]:
    """Keep lineage the row had; a run id without its experiment is completed from MLflow."""
    run_id, experiment_id = _text(row.get("run_id")), _text(row.get("experiment_id"))
    if run_id and experiment_id:
        return run_id, experiment_id
    if not run_id:
        if experiment_id:
            payload["legacy_experiment_id"] = experiment_id
        return None, None
    try:
        run = target.tracker.get_run(run_id)
    except TrackingUnavailable as exc:
        run, why = None, f"tracking unavailable ({exc})"
    else:
        why = "no such MLflow run"
    if run is not None:
        return run_id, run.experiment_id
    payload["legacy_run_id"] = run_id  # kept, not trusted: the repair job may find the run
    sink.add("warnings", RowProblem(id=row["id"], reason=f"run_id {run_id} kept in payload "
                                                         f"only: {why}"))
    return None, None


def _json(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if not isinstance(value, str | bytes):
        return value  # PostgreSQL json/jsonb columns arrive decoded
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise LegacyShapeError(f"{column} is not valid JSON") from None


def _datetime(row: dict[str, Any], column: str) -> datetime | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise LegacyShapeError(f"{column} {value!r} is not a timestamp") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # the old system wrote UTC


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
