"""`mlflow_run_context`: open (or resume) the execution's MLflow run before any artifact."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from provenant.bootstrap import Services, get_services
from provenant.domain.lineage import Lineage
from provenant.lineage.tracking import EXECUTION_TAG, WORKFLOW_TAG


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

    @property
    def client(self):
        """An MlflowClient on the same tracking store, for logging into this run."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)


# A ContextVar, not a global: each thread and asyncio task sees its own run.
_current: ContextVar[RunContext | None] = ContextVar("provenant_run", default=None)


def current_run() -> RunContext | None:
    """The run context this code executes in, if any."""
    return _current.get()


@contextmanager
def mlflow_run_context(workflow_id: str, execution_id: str, *, run_id: str | None = None,
                       experiment_name: str | None = None, end_run: bool = True,
                       services: Services | None = None) -> Iterator[RunContext]:
    """Open or resume the MLflow run of ``(workflow_id, execution_id)`` and make it current.

    The run ends FINISHED when the block completes and FAILED when it raises (unless
    ``end_run=False``, for a step that later steps continue). Entering again with the
    same ids, here or in another process, resumes the same run.
    """
    if not workflow_id or not execution_id:
        raise ValueError("mlflow_run_context needs a workflow_id and an execution_id")
    outer = _current.get()
    if outer and (outer.workflow_id, outer.execution_id) == (workflow_id, execution_id):
        yield outer  # nested: the outer block owns the run's status
        return
    services = services or get_services()
    lineage = open_or_resume_run(services, workflow_id, execution_id, run_id=run_id,
                                 experiment_name=experiment_name)
    run = RunContext(workflow_id, execution_id, lineage.run_id, lineage.experiment_id,
                     services.settings.mlflow_tracking_uri)
    token = _current.set(run)
    try:
        yield run
    except BaseException:
        services.tracker.client.set_terminated(run.run_id, "FAILED")
        raise
    else:
        if end_run:
            services.tracker.client.set_terminated(run.run_id, "FINISHED")
    finally:
        _current.reset(token)


def open_or_resume_run(services: Services, workflow_id: str, execution_id: str, *,
                       run_id: str | None = None,
                       experiment_name: str | None = None) -> Lineage:
    """The execution's one run: handed down, claimed before, found by tags, or created."""
    tracker, registry = services.tracker, services.execution_runs
    if run_id:
        run = tracker.get_run(run_id)
        if run is None:
            raise LookupError(f"MLflow run {run_id} does not exist")
        tags = run.data.tags
        if (tags.get(WORKFLOW_TAG), tags.get(EXECUTION_TAG)) != (workflow_id, execution_id):
            raise ValueError(f"MLflow run {run_id} belongs to another workflow execution")
        lineage = registry.claim(workflow_id, execution_id,
                                 Lineage(run_id, run.info.experiment_id))
        return _resume(services, lineage)

    claimed = registry.get(workflow_id, execution_id)
    if claimed and tracker.get_run(claimed.run_id) is not None:
        return _resume(services, claimed)
    if claimed:
        registry.forget(workflow_id, execution_id)  # its run was deleted in MLflow

    found = tracker.find_workflow_run(workflow_id, execution_id)
    if found:
        return _resume(services, registry.claim(workflow_id, execution_id, found))

    created = _create_run(services, workflow_id, execution_id, experiment_name or workflow_id)
    winner = registry.claim(workflow_id, execution_id, created)
    if winner != created:  # another process claimed first: keep its run, drop ours
        tracker.client.delete_run(created.run_id)
        return _resume(services, winner)
    return created


def _resume(services: Services, lineage: Lineage) -> Lineage:
    services.tracker.client.update_run(lineage.run_id, status="RUNNING")
    return lineage


def _artifact_root(services: Services) -> str | None:
    """Local stores keep run files under PROVENANT_HOME, not in the working directory."""
    settings = services.settings
    if settings.tracking_is_server:
        return None  # the server decides where artifacts go
    return (settings.home / "mlartifacts").as_uri()


def _create_run(services: Services, workflow_id: str, execution_id: str,
                experiment_name: str) -> Lineage:
    client = services.tracker.client
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        try:
            experiment_id = client.create_experiment(experiment_name,
                                                     artifact_location=_artifact_root(services))
        except Exception:  # another process created it in the meantime
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                raise
            experiment_id = experiment.experiment_id
    elif experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
        experiment_id = experiment.experiment_id
    else:
        experiment_id = experiment.experiment_id
    run = client.create_run(experiment_id, run_name=execution_id[:250],
                            tags={WORKFLOW_TAG: workflow_id, EXECUTION_TAG: execution_id})
    return Lineage(run.info.run_id, run.info.experiment_id)
