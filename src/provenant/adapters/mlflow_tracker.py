"""The MLflow tracker: lineage's lookups and run lifecycle over MlflowClient, counted."""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

from provenant.adapters.tracking import (
    EXECUTION_TAG, WORKFLOW_TAG, RunQuery, RunRecord, TrackedRun, TrackingUnavailable)
from provenant.domain.lineage import is_valid_run_id

_PAGE = 1000
# Run files fetched at once by run_files: enough to hide a round trip's latency, few enough
# not to crowd a tracking server that others use too.
_FILE_FETCHES = 4
# How long the reachability check before a run opens waits (less if MLFLOW_HTTP_REQUEST_TIMEOUT
# says so). MLflow's own retries (7, with doubling back-off) would make a down server cost minutes.
PROBE_TIMEOUT_SECONDS = 5.0

# A down tracking server must fail a lookup in seconds, not after MLflow's default minutes of
# retries, or hydration threads pile up behind it. Telemetry is off: Provenant runs on offline
# and audited machines, and MLflow 3.17's telemetry thread races os.environ reads
# (KeyError '_MLFLOW_TELEMETRY_SESSION_ID' while a run opens).
MLFLOW_ENVIRONMENT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                      "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                      "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
                      "MLFLOW_DISABLE_TELEMETRY": "true",
                      # MLflow prints "View run ..." links to stdout, which would corrupt --json.
                      "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


def configure_mlflow_client() -> dict[str, str]:
    """Apply Provenant's MLflow client settings to this process (a user's own values win).

    MLflow reads these from the environment at each call, so they are set here, once, where
    the tracker is built; child processes (the MLflow UI, Airflow tasks) inherit them.
    """
    for name, value in MLFLOW_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in MLFLOW_ENVIRONMENT}


def tag_filter(key: str, value: str) -> tuple[str, bool]:
    """A filter clause matching ``tags.key == value``, and whether it is exact.

    MLflow strips the surrounding quotes of a value but unescapes nothing, so a value holding
    both kinds of quote (or a backslash) cannot be said with `=`. Then it becomes a LIKE
    pattern with `_` in those places, and the runs that come back are checked exactly.
    """
    if "\\" not in value and "'" not in value:
        return f"tags.`{key}` = '{value}'", True
    if "\\" not in value and '"' not in value:
        return f'tags.`{key}` = "{value}"', True
    pattern = "".join("_" if ch in "'\"\\" else ch for ch in value)
    return f"tags.`{key}` LIKE '{pattern}'", False


def query_filter(query: RunQuery) -> tuple[str, bool]:
    """The MLflow filter string of a query, and whether MLflow's answer is already exact."""
    clauses, exact = [], True
    for key, value in query.tags:
        clause, is_exact = tag_filter(key, value)
        clauses.append(clause)
        exact = exact and is_exact
    # "Has this tag" is checked here, not by MLflow: its tag filters join the tags table,
    # which made a page of a 275,000-run SQLite store cost 2.2 s instead of 0.6 s.
    return " AND ".join(clauses), exact and query.has_tag is None


def _tracked(run) -> TrackedRun:
    info = run.info
    # Interned: experiments are few, and a resolution keeps a lineage per execution.
    return TrackedRun(info.run_id, sys.intern(info.experiment_id), dict(run.data.tags),
                      info.start_time or 0, info.status, info.artifact_uri or "")


def _tracked_json(run: dict) -> TrackedRun:
    """A run of a REST answer (a field the answer leaves out takes its protobuf default)."""
    info = run["info"]
    tags = {t["key"]: t.get("value", "") for t in run.get("data", {}).get("tags", [])}
    return TrackedRun(info["run_id"], sys.intern(info["experiment_id"]), tags,
                      int(info.get("start_time") or 0), info.get("status", "RUNNING"),
                      info.get("artifact_uri", ""))


class MlflowTracker:
    """A thin, counted wrapper over MlflowClient for what lineage needs."""

    def __init__(self, tracking_uri: str, artifact_root: str | None = None) -> None:
        configure_mlflow_client()
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root  # where new experiments of a local store keep files
        self.calls = 0
        self._lock = threading.Lock()

    @property
    def is_server(self) -> bool:
        return self.tracking_uri.startswith(("http://", "https://"))

    @cached_property
    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)

    def _call(self, fn, *args, **kwargs):
        with self._lock:
            self.calls += 1
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _is_not_found(exc) or _is_bad_request(exc):
                raise
            raise TrackingUnavailable(f"MLflow tracking at {self.tracking_uri}: "
                                      f"{_reason(exc)}") from exc

    def ensure_reachable(self) -> None:
        """Local stores always answer; a server counts as up when it answers below 500."""
        if not self.is_server:
            return
        from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_TIMEOUT
        from mlflow.utils.credentials import get_default_host_creds
        from mlflow.utils.rest_utils import http_request

        timeout = min(PROBE_TIMEOUT_SECONDS, MLFLOW_HTTP_REQUEST_TIMEOUT.get())
        try:  # MLflow's own request helper: it applies the user's credentials and TLS
            answer = http_request(get_default_host_creds(self.tracking_uri),
                                  "/api/2.0/mlflow/experiments/search", "GET", max_retries=0,
                                  backoff_factor=0, raise_on_status=False, timeout=timeout,
                                  params={"max_results": 1})
        except Exception as exc:
            raise TrackingUnavailable(self._unreachable(_reason(exc, timeout))) from None
        if answer.status_code >= 500:
            raise TrackingUnavailable(self._unreachable(f"it answered HTTP {answer.status_code}"))

    def _unreachable(self, reason: str) -> str:
        return (f"the MLflow tracking server {self.tracking_uri} is not reachable ({reason}); "
                "nothing was run or stored. Start it, or set PROVENANT_MLFLOW_TRACKING_URI to "
                "one that runs")

    def experiment_ids(self) -> list[str]:
        ids: list[str] = []
        token = None
        while True:
            page = self._call(self.client.search_experiments, max_results=_PAGE,
                              page_token=token)
            ids.extend(e.experiment_id for e in page)
            token = page.token
            if not token:
                return ids

    def run_pages(self, query: RunQuery, experiment_ids: list[str] | None = None,
                  page_size: int = _PAGE) -> Iterator[list[TrackedRun]]:
        experiment_ids = experiment_ids or self.experiment_ids()
        if not experiment_ids:
            return
        filter_string, exact = query_filter(query)
        for runs in self._search_pages(experiment_ids, filter_string, page_size,
                                       ["attributes.start_time DESC"]):
            yield runs if exact else [r for r in runs if query.matches(r.tags)]

    def _active_run(self, run_id: str):
        """MLflow's run, or None when it does not exist or was deleted."""
        try:
            run = self._call(self.client.get_run, run_id)
        except Exception as exc:
            if _is_not_found(exc) or _is_bad_request(exc):
                return None
            raise
        return None if run.info.lifecycle_stage == "deleted" else run

    def get_run(self, run_id: str) -> TrackedRun | None:
        run = self._active_run(run_id)
        return None if run is None else _tracked(run)

    def run_record(self, run_id: str) -> RunRecord | None:
        run = self._active_run(run_id)
        if run is None:
            return None
        return RunRecord(run.info.run_id, run.info.experiment_id, run.info.status,
                         dict(run.data.params), dict(run.data.metrics), dict(run.data.tags))

    def run_file(self, run_id: str, path: str) -> bytes | None:
        from mlflow.artifacts import download_artifacts

        # Listed first: a missing file is an answer (None), not an outage.
        folder_path = path.rpartition("/")[0] or None
        try:
            listed = self._call(self.client.list_artifacts, run_id, folder_path)
        except Exception as exc:
            if _is_not_found(exc) or _is_bad_request(exc):
                return None
            raise
        if not any(f.path == path and not f.is_dir for f in listed):
            return None
        with tempfile.TemporaryDirectory(prefix="provenant-run-file-") as folder:
            local = self._call(download_artifacts, run_id=run_id, artifact_path=path,
                               dst_path=folder, tracking_uri=self.tracking_uri)
            return Path(local).read_bytes()

    def run_files(self, runs: list[TrackedRun], path: str) -> dict[str, bytes | None]:
        """One GET per run straight from its artifact location (run_file would first look
        the run up and list its folder), `_FILE_FETCHES` at a time."""
        if not runs:
            return {}
        with ThreadPoolExecutor(min(_FILE_FETCHES, len(runs))) as pool:
            return dict(zip((r.run_id for r in runs),
                            pool.map(lambda run: self._artifact_file(run, path), runs)))

    def _artifact_file(self, run: TrackedRun, path: str) -> bytes | None:
        if not run.artifact_uri:
            return self.run_file(run.run_id, path)
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repository = get_artifact_repository(run.artifact_uri, tracking_uri=self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="provenant-run-file-") as folder:
            local = Path(folder) / "file"
            try:
                self._call(repository._download_file, path, str(local))  # one request
            except Exception as exc:
                if _is_missing_file(exc):
                    return None
                raise
            return local.read_bytes()

    def runs_by_id(self, run_ids: list[str], experiment_ids: list[str] | None = None,
                   chunk: int = 100) -> dict[str, TrackedRun]:
        """`chunk` ids per call; ids that are not well-formed never reach a filter."""
        wanted = [r for r in dict.fromkeys(run_ids) if is_valid_run_id(r)]
        if not wanted:
            return {}
        experiment_ids = experiment_ids or self.experiment_ids()
        found: dict[str, TrackedRun] = {}
        for start in range(0, len(wanted), chunk):
            quoted = ", ".join(f"'{r}'" for r in wanted[start:start + chunk])
            for page in self._search_pages(experiment_ids, f"attributes.run_id IN ({quoted})"):
                found.update((r.run_id, r) for r in page)
        return found

    def _search_pages(self, experiment_ids: list[str], filter_string: str,
                      page_size: int = _PAGE, order_by: list[str] | None = None
                      ) -> Iterator[list[TrackedRun]]:
        """Every page of a run search, one round trip each."""
        token = None
        while True:
            runs, token = self._run_search_page(experiment_ids, filter_string, token,
                                                page_size, order_by)
            yield runs
            if not token:
                return

    def _run_search_page(self, experiment_ids: list[str], filter_string: str,
                         page_token: str | None, page_size: int = _PAGE,
                         order_by: list[str] | None = None
                         ) -> tuple[list[TrackedRun], str | None]:
        """One page of active runs, and the next page's token. A server's JSON answer is read
        straight into TrackedRuns: MLflow's client would first build protobuf messages and
        entities from it, three quarters of the client's CPU in a search (what bounds a big
        verify or repair on a busy machine)."""
        if not self.is_server:
            page = self._call(self.client.search_runs, experiment_ids, filter_string,
                              max_results=page_size, page_token=page_token,
                              order_by=order_by)
            return [_tracked(r) for r in page], page.token
        body = {"experiment_ids": experiment_ids, "filter": filter_string,
                "run_view_type": "ACTIVE_ONLY", "max_results": page_size}
        if order_by:
            body["order_by"] = order_by
        if page_token:
            body["page_token"] = page_token
        answer = self._call(self._post, "/api/2.0/mlflow/runs/search", body)
        return ([_tracked_json(r) for r in answer.get("runs", [])],
                answer.get("next_page_token") or None)

    def _post(self, endpoint: str, body: dict) -> dict:
        """A REST call through MLflow's own request helper (credentials, TLS, retries and
        timeouts as its client applies them); an error answer raises as the client's would."""
        from mlflow.utils.credentials import get_default_host_creds
        from mlflow.utils.rest_utils import http_request, verify_rest_response

        answer = http_request(get_default_host_creds(self.tracking_uri), endpoint, "POST",
                              json=body)
        return verify_rest_response(answer, endpoint).json()

    def create_run(self, experiment_name: str, tags: dict[str, str],
                   run_name: str) -> TrackedRun:
        client = self.client
        experiment = self._call(client.get_experiment_by_name, experiment_name)
        if experiment is None:
            try:
                experiment_id = client.create_experiment(experiment_name,
                                                         artifact_location=self.artifact_root)
            except Exception:  # another process created it in the meantime
                experiment = self._call(client.get_experiment_by_name, experiment_name)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                self._call(client.restore_experiment, experiment_id)
        return _tracked(self._call(client.create_run, experiment_id, run_name=run_name[:250],
                                   tags=tags))

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._call(self.client.set_tag, run_id, key, value)

    def set_status(self, run_id: str, status: str) -> None:
        if status == "RUNNING":
            self._call(self.client.update_run, run_id, status="RUNNING")
        else:
            self._call(self.client.set_terminated, run_id, status)

    def delete_run(self, run_id: str) -> None:
        self._call(self.client.delete_run, run_id)

    def log_run(self, run_id: str, *, params: dict[str, str], metrics: dict[str, float],
                tags: dict[str, str], files: dict[str, bytes]) -> None:
        """One batch of params, metrics and tags, then the files as run artifacts."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self._call(self.client.log_batch, run_id,
                   metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                   params=[Param(k, v) for k, v in params.items()],
                   tags=[RunTag(k, v) for k, v in tags.items()])
        if not files:
            return
        with tempfile.TemporaryDirectory(prefix="provenant-run-files-") as folder:
            for path, data in files.items():
                target = Path(folder) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            self._call(self.client.log_artifacts, run_id, folder)


def _reason(exc: BaseException, timeout: float | None = None) -> str:
    """A short cause for a failed request (MLflow wraps requests' long messages)."""
    import requests

    causes = [exc, exc.__cause__, exc.__context__]
    # Without retries urllib3 reports a read timeout as a ConnectionError saying "timed out".
    if any(isinstance(c, requests.exceptions.Timeout) or "timed out" in str(c) for c in causes):
        return f"no answer within {timeout:g} s" if timeout else "the request timed out"
    if any(isinstance(c, requests.exceptions.ConnectionError) for c in causes):
        return "the connection was refused or dropped"
    return str(exc).splitlines()[0][:200]


def _error_code(exc: Exception) -> str | None:
    return getattr(exc, "error_code", None)


def _is_not_found(exc: Exception) -> bool:
    return _error_code(exc) == "RESOURCE_DOES_NOT_EXIST"


def _is_bad_request(exc: Exception) -> bool:
    return _error_code(exc) == "INVALID_PARAMETER_VALUE"


def _is_missing_file(exc: BaseException) -> bool:
    """A file that is not there: 404 from a served artifact store, or a local one's error."""
    for cause in (exc, exc.__cause__, exc.__context__):
        response = getattr(cause, "response", None)
        if isinstance(cause, FileNotFoundError) or getattr(response, "status_code", None) == 404:
            return True
    return _is_not_found(exc)


__all__ = ["EXECUTION_TAG", "MlflowTracker", "TrackingUnavailable", "WORKFLOW_TAG",
           "configure_mlflow_client", "query_filter", "tag_filter"]
