"""Which lineage a newly stored artifact gets, decided once at store time."""
from __future__ import annotations

from dataclasses import dataclass

from provenant.bootstrap import Services
from provenant.domain.lineage import Lineage
from provenant.lineage.context import current_run
from provenant.adapters.mlflow_tracker import TrackingUnavailable


@dataclass(frozen=True, slots=True)
class StoreLineage:
    workflow_id: str | None
    execution_id: str | None
    lineage: Lineage | None


def resolve_store_lineage(services: Services, *, workflow_id: str | None,
                          execution_id: str | None, run_id: str | None = None,
                          experiment_id: str | None = None) -> StoreLineage:
    """Explicit ids, else the current run context (no tracking call), else a lookup.

    A lookup that finds nothing, or a tracker that cannot be asked, leaves the
    lineage pending: hydration and the repair job fill it in later.
    """
    run = current_run()
    if run and workflow_id in (None, run.workflow_id) and execution_id in (None, run.execution_id):
        workflow_id, execution_id = run.workflow_id, run.execution_id
        if run_id is None:
            return StoreLineage(workflow_id, execution_id, run.lineage)
    if run_id:
        if experiment_id is None:
            found = services.tracker.get_run(run_id)
            if found is None:
                raise LookupError(f"MLflow run {run_id} does not exist")
            experiment_id = found.info.experiment_id
        return StoreLineage(workflow_id, execution_id, Lineage(run_id, experiment_id))
    if execution_id is None:
        return StoreLineage(workflow_id, execution_id, None)
    claimed = (services.execution_runs.get(workflow_id, execution_id) if workflow_id
               else services.execution_runs.find_by_execution(execution_id))
    if claimed:
        return StoreLineage(workflow_id, execution_id, claimed)
    try:
        found = services.tracker.find_execution_run(execution_id, workflow_id)
    except TrackingUnavailable:
        found = None
    return StoreLineage(workflow_id, execution_id, found)
