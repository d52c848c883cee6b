"""The repair job: fill in lineage for every artifact that has an execution id but no run."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from provenant.domain.lineage import Lineage
from provenant.domain.reports import Collect, RepairedArtifact, RepairReport, ReportSink
from provenant.lineage.audit import record_repairs
from provenant.lineage.resolve import ExecutionKey, Resolver
from provenant.store.outages import describe_database_error, retry_transient
from provenant.store.repository import ArtifactRepository

log = logging.getLogger("provenant.lineage")

# progress(stage, done, total) with stage "scan", "resolve" or "update".
Progress = Callable[[str, int, int], None]
SCAN_PAGE = 5000  # (id, workflow, execution) triples per query of the first pass


def repair_lineage(repository: ArtifactRepository, resolver: Resolver, *, dry_run: bool = False,
                   workflow_id: str | None = None, batch_size: int = 500,
                   progress: Progress | None = None,
                   sink: ReportSink | None = None) -> RepairReport:
    """Find each execution's newest matching run once and write it to its artifacts.

    Tracking calls grow with executions or result pages, never with artifacts. Memory too:
    a first pass collects the distinct executions, the resolver matches them, and a second
    pass walks the artifacts again page by page, writing and reporting each page before
    reading the next. `sink` receives the report's `repaired`, `unresolved` and `skipped`
    items as they happen (default: the returned report's own lists). Each batch is one
    conditional transaction, so concurrent jobs and re-runs after a crash write every
    artifact once. A tracker that fails is an error in the report; what was resolved before
    it failed is still correct and is written.
    """
    progress = progress or (lambda stage, done, total: None)
    report = RepairReport(dry_run=dry_run)
    sink = sink or Collect(report)
    calls_before = resolver.tracker.calls
    keys, last_id, backlog = _executions(repository, workflow_id, progress)
    report.executions = len(keys)
    resolution = resolver.resolve(keys, lambda done, total: progress("resolve", done, total))
    if resolution.error:
        report.errors.append(resolution.error)
    pass_ = _Pass(repository, resolution.found, keys, workflow_id, last_id, report, sink)
    pass_.run(batch_size, backlog, progress)
    report.tracking_calls = resolver.tracker.calls - calls_before
    log.info(json.dumps({"event": "lineage_repair_finished", "dry_run": dry_run,
                         "scanned": report.scanned, "repaired": sink.counts["repaired"],
                         "unresolved": sink.counts["unresolved"], "errors": report.errors,
                         "tracking_calls": report.tracking_calls}))
    return report


def _executions(repository: ArtifactRepository, workflow_id: str | None,
                progress: Progress) -> tuple[set[ExecutionKey], int, int]:
    """The distinct executions of the artifacts missing lineage, the last such id, their count.

    Only the keys are kept (each string once), not the artifacts: memory grows with
    executions.
    """
    keys: set[ExecutionKey] = set()
    after = count = 0
    while page := repository.missing_lineage_keys(after_id=after, limit=SCAN_PAGE,
                                                  workflow_id=workflow_id):
        # Workflow ids repeat across executions: one string each.
        keys.update((workflow and sys.intern(workflow), execution)
                    for _, workflow, execution in page)
        count += len(page)
        after = page[-1][0]
        progress("scan", count, count)
    return keys, after, count


class _Pass:
    """The second pass: the same artifacts again, one page per transaction, reported as written."""

    def __init__(self, repository: ArtifactRepository, found: dict[ExecutionKey, Lineage],
                 wanted: set[ExecutionKey], workflow_id: str | None, last_id: int,
                 report: RepairReport, sink: ReportSink) -> None:
        self.repository, self.found, self.wanted = repository, found, wanted
        self.workflow_id, self.last_id = workflow_id, last_id
        self.report, self.sink = report, sink

    def run(self, batch_size: int, backlog: int, progress: Progress) -> None:
        """Stop at the first database error (reported); what was written stays written."""
        after = 0
        while after < self.last_id and (page := self._page(after, batch_size)):
            after = page[-1][0]
            # An artifact stored after the first pass waits for the next repair: its
            # execution was not asked about.
            targets = [(i, (w, e)) for i, w, e in page if (w, e) in self.wanted]
            self.report.scanned += len(targets)
            updates = [(i, self.found[key]) for i, key in targets if key in self.found]
            for artifact_id, key in targets:
                if key not in self.found:
                    self.sink.add("unresolved", artifact_id)
            if not self._write(updates):
                return
            progress("update", self.report.scanned, backlog)

    def _page(self, after: int, batch_size: int) -> list | None:
        """The next page of artifacts to repair (a read: safe to retry); None on an outage."""
        try:
            return retry_transient(partial(
                self.repository.missing_lineage_keys, after_id=after, limit=batch_size,
                workflow_id=self.workflow_id, max_id=self.last_id))
        except SQLAlchemyError as exc:
            self._database_error("read", exc)
            return None

    def _database_error(self, operation: str, exc: SQLAlchemyError) -> None:
        driver = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        self.report.errors.append(f"database {operation} failed: "
                                  f"{describe_database_error(exc) or type(exc).__name__} "
                                  f"({driver})")

    def _write(self, updates: list[tuple[int, Lineage]]) -> bool:
        if self.report.dry_run:
            done = [artifact_id for artifact_id, _ in updates]
        else:
            try:
                # A batch is conditional and atomic: re-running it after a lost connection
                # cannot write an artifact twice.
                done = retry_transient(partial(record_repairs, self.repository, updates,
                                               "repair"))
            except SQLAlchemyError as exc:
                self._database_error("write", exc)
                return False
        repaired = set(done)
        for artifact_id, lineage in updates:
            if artifact_id in repaired:
                self.sink.add("repaired", RepairedArtifact(
                    artifact_id=artifact_id, run_id=lineage.run_id,
                    experiment_id=lineage.experiment_id))
            else:
                self.sink.add("skipped", artifact_id)
        return True
