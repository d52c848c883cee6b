"""Lineage: open runs before artifacts exist, and repair artifacts that have none.

This package's face is part of the public Python API (an entrypoint, like the CLI): it is
the one place here that builds its collaborators from the process's settings. Everything
below it takes them as arguments.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from provenant.bootstrap import Services, get_services
from provenant.lineage.context import RunContext, RunOpener, current_run, run_context

__all__ = ["RunContext", "current_run", "mlflow_run_context"]


@contextmanager
def mlflow_run_context(workflow_id: str, execution_id: str, *, run_id: str | None = None,
                       experiment_name: str | None = None, end_run: bool = True,
                       services: Services | None = None) -> Iterator[RunContext]:
    """Open or resume the MLflow run of ``(workflow_id, execution_id)`` and make it current.

    The run ends FINISHED when the block completes and FAILED when it raises (unless
    ``end_run=False``). Entering again with the same ids, here or in another process,
    resumes the same run. Artifacts stored inside take its run and experiment ids.
    """
    services = services or get_services()
    opener = RunOpener(services.tracker, services.execution_runs)
    with run_context(opener, workflow_id, execution_id, run_id=run_id,
                     experiment_name=experiment_name, end_run=end_run) as run:
        yield run
