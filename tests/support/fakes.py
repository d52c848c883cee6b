"""In-memory fakes of the adapters' Protocols, for the unit tier (no I/O, no MLflow)."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from provenant.adapters.tracking import RunQuery, RunRecord, TrackedRun, TrackingUnavailable
from provenant.domain.lineage import Lineage


class FakeTracker:
    """A tracker whose runs live in a dict; counts calls like the real one.

    `down = True` makes every call raise TrackingUnavailable; `runs` may be edited freely.
    """

    tracking_uri = "fake://tracker"

    def __init__(self) -> None:
        self.calls = 0
        self.down = False
        self.runs: dict[str, TrackedRun] = {}
        self.deleted: set[str] = set()
        self.logged: dict[str, dict] = {}
        self.experiments: dict[str, str] = {}  # name -> id
        self._ids = itertools.count(1)
        self._clock = itertools.count(1_700_000_000_000, 1000)

    def _call(self) -> None:
        self.calls += 1
        if self.down:
            raise TrackingUnavailable("fake tracker is down")

    def add_run(self, experiment_id: str = "1", start_time: int | None = None,
                **tags: str | None) -> TrackedRun:
        """A run with these tags (None values are left out), newest unless told otherwise."""
        run_id = f"{next(self._ids):032x}"
        run = TrackedRun(run_id, experiment_id, {k: v for k, v in tags.items() if v is not None},
                         start_time if start_time is not None else next(self._clock))
        self.runs[run_id] = run
        return run

    def ensure_reachable(self) -> None:
        if self.down:
            raise TrackingUnavailable("fake tracker is down")

    def experiment_ids(self) -> list[str]:
        self._call()
        return sorted({r.experiment_id for r in self.runs.values()} | set(self.experiments.values()))

    def run_pages(self, query: RunQuery, experiment_ids: list[str] | None = None,
                  page_size: int = 1000) -> Iterator[list[TrackedRun]]:
        experiments = set(experiment_ids or self.experiment_ids())
        matching = sorted((r for r in self.runs.values() if r.run_id not in self.deleted
                           and r.experiment_id in experiments and query.matches(r.tags)),
                          key=lambda r: r.start_time, reverse=True)
        for start in range(0, max(len(matching), 1), page_size):
            self._call()
            yield matching[start:start + page_size]

    def get_run(self, run_id: str) -> TrackedRun | None:
        self._call()
        return None if run_id in self.deleted else self.runs.get(run_id)

    def run_record(self, run_id: str) -> RunRecord | None:
        self._call()
        run = None if run_id in self.deleted else self.runs.get(run_id)
        if run is None:
            return None
        logged = self.logged.get(run_id, {})
        return RunRecord(run.run_id, run.experiment_id, run.status, logged.get("params", {}),
                         logged.get("metrics", {}), {**run.tags, **logged.get("tags", {})})

    def run_file(self, run_id: str, path: str) -> bytes | None:
        self._call()
        return self.logged.get(run_id, {}).get("files", {}).get(path)

    def runs_by_id(self, run_ids: list[str],
                   experiment_ids: list[str] | None = None) -> dict[str, TrackedRun]:
        self._call()
        return {r: self.runs[r] for r in run_ids if r in self.runs and r not in self.deleted}

    def create_run(self, experiment_name: str, tags: dict[str, str],
                   run_name: str) -> TrackedRun:
        self._call()
        experiment_id = self.experiments.setdefault(experiment_name,
                                                    str(len(self.experiments) + 1))
        return self.add_run(experiment_id, **tags)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._call()
        run = self.runs[run_id]
        self.runs[run_id] = TrackedRun(run.run_id, run.experiment_id, {**run.tags, key: value},
                                       run.start_time, run.status)

    def set_status(self, run_id: str, status: str) -> None:
        self._call()
        run = self.runs[run_id]
        self.runs[run_id] = TrackedRun(run.run_id, run.experiment_id, run.tags, run.start_time,
                                       status)

    def delete_run(self, run_id: str) -> None:
        self._call()
        self.deleted.add(run_id)

    def log_run(self, run_id: str, *, params: dict[str, str], metrics: dict[str, float],
                tags: dict[str, str], files: dict[str, bytes]) -> None:
        self._call()
        self.logged[run_id] = {"params": params, "metrics": metrics, "tags": tags,
                               "files": files}


class FakeClaims:
    """The claim table in a dict: (workflow_id, execution_id) -> lineage, first claim wins."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Lineage] = {}

    def lookup(self, keys: Iterable[tuple[str | None, str]]) -> dict:
        found = {}
        for workflow_id, execution_id in keys:
            if workflow_id is not None:
                lineage = self.rows.get((workflow_id, execution_id))
            else:  # newest claim of the execution: the last one inserted
                lineage = next((v for (_, e), v in reversed(self.rows.items())
                                if e == execution_id), None)
            if lineage is not None:
                found[(workflow_id, execution_id)] = lineage
        return found

    def get(self, workflow_id: str, execution_id: str) -> Lineage | None:
        return self.rows.get((workflow_id, execution_id))

    def claim(self, workflow_id: str, execution_id: str, lineage: Lineage) -> Lineage:
        return self.rows.setdefault((workflow_id, execution_id), lineage)

    def forget(self, workflow_id: str, execution_id: str) -> None:
        self.rows.pop((workflow_id, execution_id), None)


class FakeBlobStore:
    """Blobs in a dict."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.blobs.setdefault(key, data)

    def get(self, key: str) -> bytes:
        return self.blobs[key]
