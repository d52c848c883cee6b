"""MLflow lookups: experiments, runs by execution id, and safe filter strings."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import cached_property

from provenant.domain.lineage import Lineage, is_valid_run_id

WORKFLOW_TAG = "workflow_id"
EXECUTION_TAG = "execution_id"
_PAGE = 1000


class TrackingUnavailable(RuntimeError):
    """The MLflow tracking store could not be asked (down, slow or refusing)."""


def tag_filter(key: str, value: str) -> tuple[str, bool]:
    """A filter clause matching ``tags.key == value``, and whether it is exact.

    MLflow strips the surrounding quotes of a value but unescapes nothing, so a
    value holding both kinds of quote (or a backslash) cannot be said with `=`.
    Then it becomes a LIKE pattern with `_` in those places, and callers check
    the tag exactly on the runs that come back.
    """
    if "\\" not in value and "'" not in value:
        return f"tags.`{key}` = '{value}'", True
    if "\\" not in value and '"' not in value:
        return f'tags.`{key}` = "{value}"', True
    pattern = "".join("_" if ch in "'\"\\" else ch for ch in value)
    return f"tags.`{key}` LIKE '{pattern}'", False


def run_matches(tags: dict[str, str], execution_id: str, workflow_id: str | None) -> bool:
    """A run belongs to an execution when its tags say so and its workflow (if tagged) agrees."""
    if tags.get(EXECUTION_TAG) != execution_id:
        return False
    run_workflow = tags.get(WORKFLOW_TAG)
    return run_workflow is None or workflow_id is None or run_workflow == workflow_id


class Tracker:
    """A thin, counted wrapper over MlflowClient for the lookups lineage needs."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self.calls = 0  # tracking round trips made, for metrics, tests and benchmarks
        self._lock = threading.Lock()

    @cached_property
    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def _call(self, fn, *args, **kwargs):
        self._count()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _is_not_found(exc) or _is_bad_request(exc):
                raise
            raise TrackingUnavailable(f"MLflow tracking at {self.tracking_uri}: {exc}") from exc

    def active_experiment_ids(self) -> list[str]:
        """Every active experiment, across pages."""
        ids: list[str] = []
        token = None
        while True:
            page = self._call(self.client.search_experiments, max_results=_PAGE,
                              page_token=token)
            ids.extend(e.experiment_id for e in page)
            token = page.token
            if not token:
                return ids

    def search_runs(self, filter_string: str, experiment_ids: list[str] | None = None,
                    page_size: int = _PAGE) -> Iterator:
        """Active runs matching a filter, newest start_time first, page by page."""
        for page in self.search_run_pages(filter_string, experiment_ids, page_size):
            yield from page

    def search_run_pages(self, filter_string: str, experiment_ids: list[str] | None = None,
                         page_size: int = _PAGE) -> Iterator[list]:
        """Like search_runs, one list per page: each page is one tracking call."""
        experiment_ids = experiment_ids or self.active_experiment_ids()
        if not experiment_ids:
            return
        token = None
        while True:
            page = self._call(self.client.search_runs, experiment_ids, filter_string,
                              max_results=page_size, page_token=token,
                              order_by=["attributes.start_time DESC"])
            yield list(page)
            token = page.token
            if not token:
                return

    def runs_by_id(self, run_ids: list[str], experiment_ids: list[str] | None = None,
                   chunk: int = 100) -> dict:
        """Active runs by id, `chunk` ids per call (`attributes.run_id IN` is supported).

        Ids that are not well-formed MLflow run ids are never put in a filter.
        """
        wanted = [r for r in dict.fromkeys(run_ids) if is_valid_run_id(r)]
        if not wanted:
            return {}
        experiment_ids = experiment_ids or self.active_experiment_ids()
        found: dict = {}
        for start in range(0, len(wanted), chunk):
            quoted = ", ".join(f"'{r}'" for r in wanted[start:start + chunk])
            for run in self.search_runs(f"attributes.run_id IN ({quoted})", experiment_ids):
                found[run.info.run_id] = run
        return found

    def find_execution_run(self, execution_id: str, workflow_id: str | None = None,
                           experiment_ids: list[str] | None = None) -> Lineage | None:
        """The newest run tagged with this execution id that may belong to the workflow."""
        clause, _exact = tag_filter(EXECUTION_TAG, execution_id)
        for run in self.search_runs(clause, experiment_ids, page_size=100):
            if run_matches(run.data.tags, execution_id, workflow_id):
                return Lineage(run.info.run_id, run.info.experiment_id)
        return None

    def find_workflow_run(self, workflow_id: str, execution_id: str) -> Lineage | None:
        """The newest run tagged with both ids exactly."""
        clause, _ = tag_filter(EXECUTION_TAG, execution_id)
        workflow_clause, _ = tag_filter(WORKFLOW_TAG, workflow_id)
        for run in self.search_runs(f"{clause} AND {workflow_clause}", page_size=100):
            tags = run.data.tags
            if tags.get(EXECUTION_TAG) == execution_id and tags.get(WORKFLOW_TAG) == workflow_id:
                return Lineage(run.info.run_id, run.info.experiment_id)
        return None

    def get_run(self, run_id: str):
        """The run, or None when it does not exist or was deleted."""
        try:
            run = self._call(self.client.get_run, run_id)
        except Exception as exc:
            if _is_not_found(exc) or _is_bad_request(exc):
                return None
            raise
        return None if run.info.lifecycle_stage == "deleted" else run


def _error_code(exc: Exception) -> str | None:
    return getattr(exc, "error_code", None)


def _is_not_found(exc: Exception) -> bool:
    return _error_code(exc) == "RESOURCE_DOES_NOT_EXIST"


def _is_bad_request(exc: Exception) -> bool:
    return _error_code(exc) == "INVALID_PARAMETER_VALUE"
