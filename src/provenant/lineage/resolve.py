"""Which run belongs to an execution: ONE rule and ONE resolver for every caller.

Store time, hydration on read, the repair job, verification and the executions view all
ask this module, so the same run wins everywhere:

1. A claim (Provenant's own record of the run it opened for the execution) wins.
2. Else the newest (start_time) active MLflow run, in any experiment, that `matches`: its
   `execution_id` tag equals the execution's, and its `workflow_id` tag, if it has one,
   equals the artifact's. A legacy run tagged only with the execution id may match.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from provenant.adapters.tracking import (
    EXECUTION_TAG, WORKFLOW_TAG, RunQuery, TrackedRun, Tracker, TrackingUnavailable)
from provenant.domain.lineage import Lineage

# (workflow_id, execution_id): a legacy artifact may have no workflow id.
ExecutionKey = tuple[str | None, str]
# progress(done, total) while executions are resolved
Progress = Callable[[int, int], None]


class Claims(Protocol):
    def lookup(self, keys: Iterable[ExecutionKey]) -> dict[ExecutionKey, Lineage]: ...


def mismatch(tags: Mapping[str, str], workflow_id: str | None,
             execution_id: str | None) -> str | None:
    """Why a run with these tags does not belong to the execution; None when it does.

    An unknown side (no execution id, no workflow id on either side) does not disqualify.
    """
    run_execution = tags.get(EXECUTION_TAG)
    if execution_id is not None and run_execution != execution_id:
        return f"run's execution_id tag is {run_execution!r}, artifact's is {execution_id!r}"
    run_workflow = tags.get(WORKFLOW_TAG)
    if workflow_id is not None and run_workflow is not None and run_workflow != workflow_id:
        return f"run's workflow_id tag is {run_workflow!r}, artifact's is {workflow_id!r}"
    return None


def matches(run: TrackedRun, key: ExecutionKey) -> bool:
    return mismatch(run.tags, *key) is None


@dataclass
class Resolution:
    """What was found; `error` says why the rest may be unresolved (tracker failed)."""

    found: dict[ExecutionKey, Lineage] = field(default_factory=dict)
    error: str | None = None


class Resolver:
    """Claims first, then MLflow with as few round trips as the data allows.

    MLflow tag filters have no IN or OR, so asking per execution costs one call each, while
    a scan of every run that has an execution id costs one call per page and matches many
    executions locally (pages come newest first: a key's first match is its newest run).
    The resolver scans while the executions still wanted outnumber the pages already read,
    then asks per execution: never much worse than the cheaper of the two.
    """

    def __init__(self, tracker: Tracker, claims: Claims, page_size: int = 1000) -> None:
        self.tracker = tracker
        self.claims = claims
        self.page_size = page_size

    def resolve(self, keys: Iterable[ExecutionKey],
                progress: Progress | None = None) -> Resolution:
        """Resolve what can be; a failing tracker keeps what was found before it failed."""
        # A set is used as given (not copied: a repair may ask for hundreds of thousands).
        keys = keys if isinstance(keys, set | frozenset) else set(keys)
        result = Resolution(found=self.claims.lookup(keys))
        report = progress or (lambda done, total: None)
        try:
            self._from_tracker(keys - result.found.keys() if result.found else keys,
                               result.found, lambda: report(len(result.found), len(keys)))
        except Exception as exc:  # unavailable, or MLflow refusing a filter: report, never guess
            result.error = tracker_error(exc)
        return result

    def resolve_one(self, key: ExecutionKey) -> Lineage | None:
        """One execution's run; raises TrackingUnavailable when MLflow cannot be asked."""
        claimed = self.claims.lookup([key]).get(key)
        if claimed is not None:
            return claimed
        found: dict[ExecutionKey, Lineage] = {}
        self._from_tracker({key}, found, lambda: None)
        return found.get(key)

    def newest_run(self, key: ExecutionKey,
                   experiment_ids: list[str] | None = None) -> TrackedRun | None:
        """The newest matching run in MLflow alone (claims not consulted)."""
        query = RunQuery(tags=((EXECUTION_TAG, key[1]),))
        for page in self.tracker.run_pages(query, experiment_ids, page_size=100):
            for run in page:
                if matches(run, key):
                    return run
        return None

    def _from_tracker(self, wanted: set[ExecutionKey], found: dict[ExecutionKey, Lineage],
                      tick: Callable[[], None]) -> None:
        if not wanted:
            return
        experiment_ids = self.tracker.experiment_ids()
        if not experiment_ids:
            return
        if self._scan(wanted, found, experiment_ids, tick):
            return
        for key in sorted(wanted - found.keys(), key=str):
            run = self.newest_run(key, experiment_ids)
            if run is not None:
                found[key] = run.lineage
            tick()

    def scan_pages(self, experiment_ids: list[str]) -> Iterator[list[TrackedRun]]:
        """Every run that has an execution id, newest first, one page per round trip."""
        return self.tracker.run_pages(RunQuery(has_tag=EXECUTION_TAG), experiment_ids,
                                      self.page_size)

    def _scan(self, wanted: set[ExecutionKey], found: dict[ExecutionKey, Lineage],
              experiment_ids: list[str], tick: Callable[[], None]) -> bool:
        """Match runs page by page; True when the scan was read to its end."""
        by_execution = by_execution_id(wanted)
        pending = len(wanted)
        pages = self.scan_pages(experiment_ids)
        read = 0
        while worth_scanning(pending, read):
            page = next(pages, None)
            if page is None:
                return True
            read += 1
            pending -= match_page(page, by_execution, found)
            tick()
        return False


# execution id -> its key, or a list of keys when several workflows want it (rare): no list
# per execution, so memory stays near the keys' own.
KeysByExecution = dict[str, ExecutionKey | list[ExecutionKey]]


def by_execution_id(keys: Iterable[ExecutionKey]) -> KeysByExecution:
    index: KeysByExecution = {}
    for key in keys:
        other = index.setdefault(key[1], key)
        if other is not key:
            index[key[1]] = [*(other if isinstance(other, list) else [other]), key]
    return index


def worth_scanning(pending: int, pages_read: int) -> bool:
    """Another scan page, or ask for the rest one by one? A page costs about one search."""
    return pending > pages_read + 1


def match_page(runs: Iterable[TrackedRun], by_execution: KeysByExecution,
               found: dict[ExecutionKey, Lineage]) -> int:
    """Give each key these runs stand for its first matching run (pages come newest first, so
    a key's first match is its newest run); returns how many keys were newly found."""
    new = 0
    for run in runs:
        entry = by_execution.get(run.tags.get(EXECUTION_TAG, ""), ())
        for key in entry if isinstance(entry, list) else (entry,) if entry else ():
            if key not in found and matches(run, key):
                found[key] = run.lineage
                new += 1
    return new


def tracker_error(exc: Exception) -> str:
    """What a failed tracker call means for a report: unavailable, or MLflow refused."""
    if isinstance(exc, TrackingUnavailable):
        return str(exc)
    return f"MLflow search failed: {str(exc).splitlines()[0][:300]}"
