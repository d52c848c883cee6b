"""The repair job: fill in lineage for every artifact that has an execution id but no run."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from provenant.adapters.tracking import EXECUTION_TAG
from provenant.domain.lineage import Lineage
from provenant.domain.reports import Collect, RepairedArtifact, RepairReport, ReportSink
from provenant.lineage.audit import record_repairs
from provenant.lineage.resolve import (
    ExecutionKey, Resolver, by_execution_id, match_page, tracker_error, worth_scanning)
from provenant.store.outages import describe_database_error, retry_transient
from provenant.store.repository import ArtifactRepository

log = logging.getLogger("provenant.lineage")

# progress(stage, done, total): "scan" (artifacts walked for claims), "resolve" (executions
# matched) or "update" (artifacts written).
Progress = Callable[[str, int, int], None]
SCAN_PAGE = 5000  # (id, workflow, execution) triples per read of the backlog
# (id, workflow_id, execution_id) of an artifact missing lineage
Target = tuple[int, str | None, str]


def repair_lineage(repository: ArtifactRepository, resolver: Resolver, *, dry_run: bool = False,
                   workflow_id: str | None = None, batch_size: int = 500,
                   progress: Progress | None = None,
                   sink: ReportSink | None = None) -> RepairReport:
    """Give each artifact missing lineage its execution's run, by the resolver's one rule:
    claimed runs first, then MLflow's runs newest first, a page at a time, then one search
    per execution for the few left when that is cheaper.

    The database is the state, so memory holds a page whatever the backlog: an execution's
    artifacts are written as soon as it is matched (`batch_size` per conditional
    transaction, one audit row each), which takes them out of what later, older pages look
    for. A dry run writes nothing and so remembers the executions it matched instead.
    Tracking calls grow with result pages (or the few executions asked one by one), never
    with artifacts. `sink` receives `repaired`, `unresolved` and `skipped` items as they
    happen (default: the returned report's own lists). A failing tracker is an error in the
    report; what was matched before stays written and the rest is reported unresolved.
    The first database error stops the job (reported); what was written stays written.
    """
    report = RepairReport(dry_run=dry_run)
    sink = sink or Collect(report)
    calls_before = resolver.tracker.calls
    _Repair(repository, resolver, workflow_id, report, sink, batch_size,
            progress or (lambda stage, done, total: None)).run()
    report.tracking_calls = resolver.tracker.calls - calls_before
    log.info(json.dumps({"event": "lineage_repair_finished", "dry_run": dry_run,
                         "scanned": report.scanned, "repaired": sink.counts["repaired"],
                         "unresolved": sink.counts["unresolved"], "errors": report.errors,
                         "tracking_calls": report.tracking_calls}))
    return report


class _Repair:
    """One repair pass over the backlog as it was when the pass started (ids up to last_id)."""

    def __init__(self, repository: ArtifactRepository, resolver: Resolver,
                 workflow_id: str | None, report: RepairReport, sink: ReportSink,
                 batch_size: int, progress: Progress) -> None:
        self.repository, self.resolver, self.workflow_id = repository, resolver, workflow_id
        self.report, self.sink, self.batch_size, self.progress = report, sink, batch_size, progress
        # Only a dry run needs to remember what it matched: a real run wrote it.
        self.decided: set[ExecutionKey] | None = set() if report.dry_run else None
        self.last_id = self.pending = self.written = 0
        self.failed = False  # a database error: stop

    def run(self) -> None:
        # Nothing is done yet: a database that cannot answer fails the job (503 for the route).
        self.report.scanned, self.report.executions, self.last_id = retry_transient(
            partial(self.repository.missing_lineage_backlog, self.workflow_id))
        self.pending = self.report.executions
        if self.report.scanned and self._from_claims() and self._from_tracker():
            self._report_unresolved()

    def _from_claims(self) -> bool:
        """Executions whose run Provenant claimed when it opened it: that run wins."""
        walked = 0
        for page in self._backlog():
            claimed = self.resolver.claims.lookup(self._undecided(page))
            if claimed and not self._write(claimed):
                return False
            walked += len(page)
            self.progress("scan", walked, self.report.scanned)
        return not self.failed

    def _from_tracker(self) -> bool:
        """MLflow's runs newest first; the first run matching an execution is its newest."""
        try:
            experiment_ids = _ask(self.resolver.tracker.experiment_ids)
            if not experiment_ids:
                return True
            pages, read = self.resolver.scan_pages(experiment_ids), 0
            while worth_scanning(self.pending, read):
                page = _ask(partial(next, pages, None))
                if page is None:
                    return True  # every run seen: what is left has none
                read += 1
                executions = {run.tags[EXECUTION_TAG] for run in page if EXECUTION_TAG in run.tags}
                targets = self._read(partial(self.repository.missing_lineage_of, executions,
                                             self.workflow_id, self.last_id))
                if targets is None:
                    return False
                found: dict[ExecutionKey, Lineage] = {}
                match_page(page, by_execution_id(self._undecided(targets)), found)
                if found and not self._write(found, targets):
                    return False
                self.progress("resolve", self.report.executions - self.pending,
                              self.report.executions)
            for key in self._left():  # asking these one by one costs less than scanning on
                run = _ask(partial(self.resolver.newest_run, key, experiment_ids))
                if run is not None and not self._write({key: run.lineage}):
                    return False
            return not self.failed
        except _TrackerFailed as exc:  # what was matched before it is written
            self.report.errors.append(str(exc))
            return True

    def _left(self) -> Iterator[ExecutionKey]:
        """The executions still missing lineage, each once."""
        asked: set[ExecutionKey] = set()
        for page in self._backlog():
            for key in self._undecided(page) - asked:
                asked.add(key)
                yield key

    def _report_unresolved(self) -> None:
        for page in self._backlog():
            for artifact_id, workflow, execution in page:
                if self.decided is None or (workflow, execution) not in self.decided:
                    self.sink.add("unresolved", artifact_id)

    def _undecided(self, targets: list[Target]) -> set[ExecutionKey]:
        keys = {(workflow, execution) for _, workflow, execution in targets}
        return keys - self.decided if self.decided else keys

    def _write(self, found: dict[ExecutionKey, Lineage],
               targets: list[Target] | None = None) -> bool:
        """Write these executions' runs to all their artifacts still missing lineage."""
        if targets is None:
            targets = self._read(partial(self.repository.missing_lineage_of,
                                         {execution for _, execution in found},
                                         self.workflow_id, self.last_id))
            if targets is None:
                return False
        self.pending -= len(found)
        if self.decided is not None:
            self.decided.update(found)
        updates = [(i, found[(w, e)]) for i, w, e in targets if (w, e) in found]
        for start in range(0, len(updates), self.batch_size):
            if not self._write_batch(updates[start:start + self.batch_size]):
                return False
        return True

    def _write_batch(self, updates: list[tuple[int, Lineage]]) -> bool:
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
        self.written += len(updates)
        self.progress("update", self.written, self.report.scanned)
        for artifact_id, lineage in updates:
            if artifact_id in repaired:
                self.sink.add("repaired", RepairedArtifact(
                    artifact_id=artifact_id, run_id=lineage.run_id,
                    experiment_id=lineage.experiment_id))
            else:
                self.sink.add("skipped", artifact_id)
        return True

    def _backlog(self) -> Iterator[list[Target]]:
        """The artifacts still missing lineage (up to last_id), a page at a time."""
        after = 0
        while not self.failed and after < self.last_id:
            page = self._read(partial(self.repository.missing_lineage_keys, after_id=after,
                                      limit=SCAN_PAGE, workflow_id=self.workflow_id,
                                      max_id=self.last_id))
            if not page:
                return
            after = page[-1][0]
            yield page

    def _read(self, query: Callable[[], Any]) -> Any:
        """A read (safe to retry); None after a database outage, which stops the job."""
        try:
            return retry_transient(query)
        except SQLAlchemyError as exc:
            self._database_error("read", exc)
            return None

    def _database_error(self, operation: str, exc: SQLAlchemyError) -> None:
        self.failed = True
        driver = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        self.report.errors.append(f"database {operation} failed: "
                                  f"{describe_database_error(exc) or type(exc).__name__} "
                                  f"({driver})")


class _TrackerFailed(Exception):
    """MLflow could not be asked (unavailable, or it refused the search): the reason."""


def _ask(call: Callable[[], Any]) -> Any:
    """A tracker call; any failure of it becomes _TrackerFailed, never a guess."""
    try:
        return call()
    except Exception as exc:
        raise _TrackerFailed(tracker_error(exc)) from exc
