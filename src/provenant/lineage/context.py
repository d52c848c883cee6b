"""`mlflow_run_context`: open (or resume) the execution's MLflow run before any artifact."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from provenant.bootstrap import Services, get_services
from provenant.domain.lineage import Lineage
from provenant.adapters.mlflow_tracker import EXECUTION_TAG, WORKFLOW_TAG, TrackingUnavailable

log = logging.getLogger("provenant.lineage")

# How long the reachability check before a run opens waits for the tracking server (less if
# MLFLOW_HTTP_REQUEST_TIMEOUT says so). MLflow's own retries (7, with doubling back-off)
# would make a down server cost minutes instead.
PROBE_TIMEOUT_SECONDS = 5.0


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
    ensure_tracker_reachable(services)
    try:
        lineage = open_or_resume_run(services, workflow_id, execution_id, run_id=run_id,
                                     experiment_name=experiment_name)
    except Exception as exc:
        unavailable = _as_tracking_error(services, exc)
        if unavailable is None:
            raise
        raise unavailable from exc
    run = RunContext(workflow_id, execution_id, lineage.run_id, lineage.experiment_id,
                     services.settings.mlflow_tracking_uri)
    token = _current.set(run)
    try:
        yield run
    except BaseException:
        _mark_failed(services, run)
        raise
    else:
        if end_run:
            services.tracker.client.set_terminated(run.run_id, "FINISHED")
    finally:
        _current.reset(token)


def ensure_tracker_reachable(services: Services) -> None:
    """Raise TrackingUnavailable, in seconds, when the tracking server does not answer.

    Local stores (sqlite, file) always answer. A server counts as up when it answers
    anything below 500: a 401 or 404 here leaves the real error to the real call.
    """
    settings = services.settings
    if not settings.tracking_is_server:
        return
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    uri = settings.mlflow_tracking_uri
    timeout = min(PROBE_TIMEOUT_SECONDS, MLFLOW_HTTP_REQUEST_TIMEOUT.get())
    try:  # MLflow's own request helper: it applies the user's MLflow credentials and TLS
        answer = http_request(get_default_host_creds(uri), "/api/2.0/mlflow/experiments/search",
                              "GET", max_retries=0, backoff_factor=0, raise_on_status=False,
                              timeout=timeout, params={"max_results": 1})
    except Exception as exc:
        raise TrackingUnavailable(_unreachable(uri, _reason(exc, timeout))) from None
    if answer.status_code >= 500:
        raise TrackingUnavailable(_unreachable(uri, f"it answered HTTP {answer.status_code}"))


def _unreachable(uri: str, reason: str) -> str:
    return (f"the MLflow tracking server {uri} is not reachable ({reason}); nothing was run "
            "or stored. Start it, or set PROVENANT_MLFLOW_TRACKING_URI to one that runs")


def _reason(exc: BaseException, timeout: float) -> str:
    """A short cause for a failed request (MLflow wraps requests' long messages)."""
    import requests

    causes = [exc, exc.__cause__, exc.__context__]
    # Without retries urllib3 reports a read timeout as a ConnectionError saying "timed out".
    if any(isinstance(c, requests.exceptions.Timeout) or "timed out" in str(c) for c in causes):
        return f"no answer within {timeout:g} s"
    if any(isinstance(c, requests.exceptions.ConnectionError) for c in causes):
        return "the connection was refused or dropped"
    return str(exc).splitlines()[0][:200]


def _as_tracking_error(services: Services, exc: Exception) -> TrackingUnavailable | None:
    """MLflow failing while a run opens is the tracker being unavailable, said in one line."""
    from mlflow.exceptions import MlflowException

    if not isinstance(exc, MlflowException) or exc.error_code in (
            "RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
        return None  # ours (wrong run id, ...) or MLflow refusing a value: already clear
    uri = services.settings.mlflow_tracking_uri
    return TrackingUnavailable(f"MLflow tracking at {uri} failed while opening the run: "
                               f"{str(exc).splitlines()[0][:300]}")


def _mark_failed(services: Services, run: RunContext) -> None:
    """Mark the run FAILED if the tracker lets us; the block's own error is what gets raised."""
    try:
        services.tracker.client.set_terminated(run.run_id, "FAILED")
    except Exception as exc:  # e.g. the tracker went down mid-run: keep the original error
        log.warning("could not mark MLflow run %s FAILED: %s", run.run_id,
                    str(exc).splitlines()[0][:300])


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
