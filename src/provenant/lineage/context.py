"""The run context: open (or resume) the execution's run before any artifact exists."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from provenant.adapters.tracking import (
    EXECUTION_TAG, WORKFLOW_TAG, Tracker, TrackedRun, TrackingUnavailable)
from provenant.domain.lineage import Lineage
from provenant.lineage.resolve import Resolver
from provenant.store.execution_runs import ExecutionRunRegistry

log = logging.getLogger("provenant.lineage")


@dataclass(frozen=True, slots=True)
class RunContext:
    """The open run of one workflow execution: what every artifact stored inside inherits."""

    workflow_id: str
    execution_id: str
    run_id: str
    experiment_id: str
    tracking_uri: str

    @property
    def lineage(self) -> Lineage:
        return Lineage(self.run_id, self.experiment_id)


@dataclass(frozen=True, slots=True)
class OpenedRun:
    """The run an execution's block works in, and the status it had ended with before."""

    lineage: Lineage
    was_finished: bool = False  # the execution had completed before this block reopened it


# A ContextVar, not a global: each thread and asyncio task sees its own run.
_current: ContextVar[RunContext | None] = ContextVar("provenant_run", default=None)


def current_run() -> RunContext | None:
    """The run context this code executes in, if any."""
    return _current.get()


class RunOpener:
    """Finds or creates an execution's one run; the claim table makes it one across processes."""

    def __init__(self, tracker: Tracker, claims: ExecutionRunRegistry) -> None:
        self.tracker = tracker
        self.claims = claims
        self.resolver = Resolver(tracker, claims)

    def open(self, workflow_id: str, execution_id: str, *, run_id: str | None = None,
             experiment_name: str | None = None) -> OpenedRun:
        """The execution's run, RUNNING: handed down, claimed, found by the resolver, or new."""
        if run_id:
            run = self._handed_down(run_id, workflow_id, execution_id)
            return self._resume(self.claims.claim(workflow_id, execution_id, run.lineage),
                                run.status == "FINISHED")
        claimed = self.claims.get(workflow_id, execution_id)
        run = self.tracker.get_run(claimed.run_id) if claimed else None
        if claimed and run is not None:
            return self._resume(claimed, run.status == "FINISHED")
        if claimed:
            self.claims.forget(workflow_id, execution_id)  # its run was deleted in MLflow
        found = self.resolver.newest_run((workflow_id, execution_id))
        if found is not None:
            if WORKFLOW_TAG not in found.tags:  # a legacy run: adopt it under the CONTRACT's tags
                self.tracker.set_tag(found.run_id, WORKFLOW_TAG, workflow_id)
            return self._resume(self.claims.claim(workflow_id, execution_id, found.lineage),
                                found.status == "FINISHED")
        created = self.tracker.create_run(
            experiment_name or workflow_id, run_name=execution_id,
            tags={WORKFLOW_TAG: workflow_id, EXECUTION_TAG: execution_id}).lineage
        winner = self.claims.claim(workflow_id, execution_id, created)
        if winner != created:  # another process claimed first: keep its run, drop ours
            self.tracker.delete_run(created.run_id)
            return self._resume(winner)
        return OpenedRun(created)

    def _handed_down(self, run_id: str, workflow_id: str, execution_id: str) -> TrackedRun:
        run = self.tracker.get_run(run_id)
        if run is None:
            raise LookupError(f"MLflow run {run_id} does not exist")
        if (run.tags.get(WORKFLOW_TAG), run.tags.get(EXECUTION_TAG)) != (workflow_id,
                                                                         execution_id):
            raise ValueError(f"MLflow run {run_id} belongs to another workflow execution")
        return run

    def _resume(self, lineage: Lineage, was_finished: bool = False) -> OpenedRun:
        self.tracker.set_status(lineage.run_id, "RUNNING")
        return OpenedRun(lineage, was_finished)

    def finish(self, run_id: str, status: str) -> None:
        """End the run; FAILED is best effort (the block's own error is what matters)."""
        if status == "FINISHED":
            self.tracker.set_status(run_id, status)
            return
        try:
            self.tracker.set_status(run_id, status)
        except Exception as exc:  # e.g. the tracker went down mid-run: keep the original error
            log.warning("could not mark MLflow run %s %s: %s", run_id, status,
                        str(exc).splitlines()[0][:300])


@contextmanager
def run_context(opener: RunOpener, workflow_id: str, execution_id: str, *,
                run_id: str | None = None, experiment_name: str | None = None,
                end_run: bool = True) -> Iterator[RunContext]:
    """Open or resume the run of ``(workflow_id, execution_id)`` and make it current.

    The run ends FINISHED when the block completes and FAILED when it raises (unless
    ``end_run=False``, for a step that later steps continue). Entering again with the same
    ids, here or in another process, resumes the same run. A block that reopened a FINISHED
    run without ending it (an operator re-ran one middle task of a finished Airflow DAG
    run) ends it FINISHED again rather than leaving it RUNNING. A FAILED run stays RUNNING
    after a successful retry of a middle step: the steps after it are still to come.
    """
    if not workflow_id or not execution_id:
        raise ValueError("mlflow_run_context needs a workflow_id and an execution_id")
    outer = _current.get()
    if outer and (outer.workflow_id, outer.execution_id) == (workflow_id, execution_id):
        yield outer  # nested: the outer block owns the run's status
        return
    opener.tracker.ensure_reachable()
    try:
        opened = opener.open(workflow_id, execution_id, run_id=run_id,
                             experiment_name=experiment_name)
    except TrackingUnavailable as exc:
        raise TrackingUnavailable(f"{exc} (while opening the run)") from exc
    run = RunContext(workflow_id, execution_id, opened.lineage.run_id,
                     opened.lineage.experiment_id, opener.tracker.tracking_uri)
    token = _current.set(run)
    try:
        yield run
    except BaseException:
        opener.finish(run.run_id, "FAILED")
        raise
    else:
        if end_run:
            opener.finish(run.run_id, "FINISHED")
        elif opened.was_finished:
            opener.finish(run.run_id, "FINISHED")
    finally:
        _current.reset(token)
