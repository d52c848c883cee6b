"""The repair job: fill in lineage for every artifact that has an execution id but no run."""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from provenant.bootstrap import Services
from provenant.domain.lineage import Lineage
from provenant.lineage.audit import record_repairs
from provenant.adapters.mlflow_tracker import (
    EXECUTION_TAG, WORKFLOW_TAG, Tracker, TrackingUnavailable, run_matches, tag_filter)
from provenant.store.outages import describe_database_error, retry_transient

log = logging.getLogger("provenant.lineage")

# (workflow_id, execution_id): a legacy artifact may have no workflow id.
ExecutionKey = tuple[str | None, str]
# progress(stage, done, total) with stage "scan", "resolve" or "update".
Progress = Callable[[str, int, int], None]

_ANY_EXECUTION = f"tags.`{EXECUTION_TAG}` LIKE '%'"


@dataclass(frozen=True, slots=True)
class RepairedArtifact:
    artifact_id: int
    run_id: str
    experiment_id: str


@dataclass
class RepairReport:
    """What one repair pass found and did (the CONTRACT's JSON, plus bookkeeping)."""

    dry_run: bool = False
    scanned: int = 0
    repaired: list[RepairedArtifact] = field(default_factory=list)
    unresolved: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # repaired meanwhile by another writer
    errors: list[str] = field(default_factory=list)
    executions: int = 0
    tracking_calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return asdict(self)


def repair_lineage(services: Services, *, dry_run: bool = False, workflow_id: str | None = None,
                   batch_size: int | None = None, progress: Progress | None = None
                   ) -> RepairReport:
    """Find each execution's newest matching run once and write it to its artifacts.

    Tracking calls grow with executions or result pages, never with artifacts. Each
    batch is one conditional transaction, so concurrent jobs and re-runs after a crash
    write every artifact once. A tracker that fails is an error in the report; what was
    resolved before it failed is still correct and is written.
    """
    progress = progress or (lambda stage, done, total: None)
    report = RepairReport(dry_run=dry_run)
    calls_before = services.tracker.calls
    targets = _targets(services, workflow_id, progress)
    report.scanned = len(targets)
    keys = {key for _, key in targets}
    report.executions = len(keys)
    resolver = ExecutionResolver(services.tracker, progress)
    if keys:
        try:
            resolver.resolve(keys)
        except TrackingUnavailable as exc:
            report.errors.append(str(exc))
        except Exception as exc:  # MLflow refusing a filter: report, never guess
            report.errors.append(f"MLflow search failed: {exc}")
    updates = [(artifact_id, resolver.found[key]) for artifact_id, key in targets
               if key in resolver.found]
    report.unresolved = [artifact_id for artifact_id, key in targets if key not in resolver.found]
    _apply(services, updates, batch_size or services.settings.repair_batch_size, report,
           progress)
    report.tracking_calls = services.tracker.calls - calls_before
    log.info(json.dumps({"event": "lineage_repair_finished", "dry_run": dry_run,
                         "scanned": report.scanned, "repaired": len(report.repaired),
                         "unresolved": len(report.unresolved), "errors": report.errors,
                         "tracking_calls": report.tracking_calls}))
    return report


def _targets(services: Services, workflow_id: str | None,
             progress: Progress) -> list[tuple[int, ExecutionKey]]:
    """Every artifact still missing lineage, as (id, execution key), in id order."""
    targets: list[tuple[int, ExecutionKey]] = []
    after = 0
    while page := services.artifacts.missing_lineage(after_id=after, limit=1000,
                                                     workflow_id=workflow_id):
        targets.extend((a.id, (a.workflow_id, a.execution_id)) for a in page)
        after = page[-1].id
        progress("scan", len(targets), len(targets))
    return targets


def _apply(services: Services, updates: list[tuple[int, Lineage]], batch_size: int,
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
                done = retry_transient(partial(record_repairs, services.artifacts, batch, "repair"))
            except SQLAlchemyError as exc:
                driver = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                report.errors.append(f"database write failed: "
                                     f"{describe_database_error(exc) or type(exc).__name__} "
                                     f"({driver})")
                return
        repaired = set(done)
        for artifact_id, lineage in batch:
            if artifact_id in repaired:
                report.repaired.append(
                    RepairedArtifact(artifact_id, lineage.run_id, lineage.experiment_id))
            else:
                report.skipped.append(artifact_id)
        progress("update", start + len(batch), len(updates))


class ExecutionResolver:
    """Newest matching run per execution, with as few tracking calls as the data allows.

    MLflow tag filters have no IN or OR, so asking per execution costs one call each.
    A scan of a filter (runs of one workflow, or all runs with an execution id) costs
    one call per page and matches many executions locally. The resolver scans while
    the executions still wanted outnumber the pages already read, then asks per
    execution: never much worse than the cheaper of the two.
    """

    def __init__(self, tracker: Tracker, progress: Progress | None = None,
                 page_size: int = 1000) -> None:
        self.tracker = tracker
        self.progress = progress or (lambda stage, done, total: None)
        self.page_size = page_size
        self.found: dict[ExecutionKey, Lineage] = {}
        self._total = 0

    def resolve(self, keys: Iterable[ExecutionKey]) -> dict[ExecutionKey, Lineage]:
        """Resolve what can be resolved into ``self.found`` (kept if the tracker fails)."""
        keys = set(keys)
        self._total = len(keys)
        experiment_ids = self.tracker.active_experiment_ids()
        if not experiment_ids:
            return self.found
        by_workflow: dict[str, set[ExecutionKey]] = defaultdict(set)
        for key in keys:
            if key[0] is not None:
                by_workflow[key[0]].add(key)
        for workflow_id, wanted in sorted(by_workflow.items()):
            self._scan(tag_filter(WORKFLOW_TAG, workflow_id)[0], wanted, experiment_ids)
        # Legacy runs may carry only an execution id: one scan over every such run.
        remaining = keys - self.found.keys()
        if self._scan(_ANY_EXECUTION, remaining, experiment_ids):
            return self.found
        for key in sorted(remaining - self.found.keys(), key=str):
            lineage = self.tracker.find_execution_run(key[1], key[0], experiment_ids)
            if lineage:
                self.found[key] = lineage
            self._report()
        return self.found

    def _scan(self, filter_string: str, wanted: set[ExecutionKey],
              experiment_ids: list[str]) -> bool:
        """Match runs page by page; True when the scan was read to its end."""
        by_execution: dict[str, list[ExecutionKey]] = defaultdict(list)
        for key in wanted:
            by_execution[key[1]].append(key)
        pending = len(wanted)
        pages = self.tracker.search_run_pages(filter_string, experiment_ids, self.page_size)
        read = 0
        while pending > read + 1:  # asking the rest one by one would cost no more
            page = next(pages, None)
            if page is None:
                return True
            read += 1
            for run in page:  # newest first: the first match of a key is its newest run
                tags = run.data.tags
                for key in by_execution.get(tags.get(EXECUTION_TAG), ()):
                    if key not in self.found and run_matches(tags, key[1], key[0]):
                        self.found[key] = Lineage(run.info.run_id, run.info.experiment_id)
                        pending -= 1
            self._report()
        return False

    def _report(self) -> None:
        self.progress("resolve", len(self.found), self._total)
