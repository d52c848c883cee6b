"""The repair job: fill in lineage for every artifact that has an execution id but no run."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from provenant.domain.lineage import Lineage
from provenant.domain.reports import RepairedArtifact, RepairReport
from provenant.lineage.audit import record_repairs
from provenant.lineage.resolve import ExecutionKey, Resolver
from provenant.store.outages import describe_database_error, retry_transient
from provenant.store.repository import ArtifactRepository

log = logging.getLogger("provenant.lineage")

# progress(stage, done, total) with stage "scan", "resolve" or "update".
Progress = Callable[[str, int, int], None]


def repair_lineage(repository: ArtifactRepository, resolver: Resolver, *, dry_run: bool = False,
                   workflow_id: str | None = None, batch_size: int = 500,
                   progress: Progress | None = None) -> RepairReport:
    """Find each execution's newest matching run once and write it to its artifacts.

    Tracking calls grow with executions or result pages, never with artifacts. Each
    batch is one conditional transaction, so concurrent jobs and re-runs after a crash
    write every artifact once. A tracker that fails is an error in the report; what was
    resolved before it failed is still correct and is written.
    """
    progress = progress or (lambda stage, done, total: None)
    report = RepairReport(dry_run=dry_run)
    calls_before = resolver.tracker.calls
    targets = _targets(repository, workflow_id, progress)
    report.scanned = len(targets)
    keys = {key for _, key in targets}
    report.executions = len(keys)
    resolution = resolver.resolve(keys, lambda done, total: progress("resolve", done, total))
    if resolution.error:
        report.errors.append(resolution.error)
    found = resolution.found
    updates = [(artifact_id, found[key]) for artifact_id, key in targets if key in found]
    report.unresolved = [artifact_id for artifact_id, key in targets if key not in found]
    _apply(repository, updates, batch_size, report, progress)
    report.tracking_calls = resolver.tracker.calls - calls_before
    log.info(json.dumps({"event": "lineage_repair_finished", "dry_run": dry_run,
                         "scanned": report.scanned, "repaired": len(report.repaired),
                         "unresolved": len(report.unresolved), "errors": report.errors,
                         "tracking_calls": report.tracking_calls}))
    return report


def _targets(repository: ArtifactRepository, workflow_id: str | None,
             progress: Progress) -> list[tuple[int, ExecutionKey]]:
    """Every artifact still missing lineage, as (id, execution key), in id order."""
    targets: list[tuple[int, ExecutionKey]] = []
    after = 0
    while page := repository.missing_lineage(after_id=after, limit=1000,
                                                     workflow_id=workflow_id):
        targets.extend((a.id, (a.workflow_id, a.execution_id)) for a in page)
        after = page[-1].id
        progress("scan", len(targets), len(targets))
    return targets


def _apply(repository: ArtifactRepository, updates: list[tuple[int, Lineage]], batch_size: int,
           report: RepairReport, progress: Progress) -> None:
    """Write in batches, one transaction each; stop at the first database error."""
    for start in range(0, len(updates), batch_size):
        batch = updates[start:start + batch_size]
        if report.dry_run:
            done = [artifact_id for artifact_id, _ in batch]
        else:
            try:
                # A batch is conditional and atomic: re-running it after a lost connection
                # cannot write an artifact twice.
                done = retry_transient(partial(record_repairs, repository, batch, "repair"))
            except SQLAlchemyError as exc:
                driver = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                report.errors.append(f"database write failed: "
                                     f"{describe_database_error(exc) or type(exc).__name__} "
                                     f"({driver})")
                return
        repaired = set(done)
        for artifact_id, lineage in batch:
            if artifact_id in repaired:
                report.repaired.append(RepairedArtifact(
                    artifact_id=artifact_id, run_id=lineage.run_id,
                    experiment_id=lineage.experiment_id))
            else:
                report.skipped.append(artifact_id)
        progress("update", start + len(batch), len(updates))
