"""In-memory fakes of the adapters' Protocols, for the unit tier (no I/O, no MLflow)."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from provenant.adapters.tracking import RunQuery, RunRecord, TrackedRun, TrackingUnavailable
from provenant.domain.artifacts import Artifact, NewArtifact
from provenant.domain.lineage import Lineage
from provenant.domain.provenance import Edge
from provenant.domain.reports import RepairRecord
from provenant.store.repository import FILTERS, decode_cursor, encode_cursor


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
        return sorted({r.experiment_id for r in self.runs.values()}
                      | set(self.experiments.values()))

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

    def run_files(self, runs: list[TrackedRun], path: str) -> dict[str, bytes | None]:
        return {run.run_id: self.run_file(run.run_id, path) for run in runs}

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


class FakeRepository:
    """The artifact table and its audit log in memory: the subset of ArtifactRepository that
    the store path, hydration, repair and verify use, with the same conditional lineage write.
    """

    def __init__(self) -> None:
        self.rows: dict[int, Artifact] = {}
        self.images: dict[int, tuple[str, str]] = {}
        self.audit: list[RepairRecord] = []  # oldest first, like the table's ids
        self.inputs: list[Edge] = []  # derivation edges
        self._ids = itertools.count(1)

    def add(self, new: NewArtifact, image_key: str | None = None,
            image_content_type: str | None = None, inputs: Sequence[int] = ()) -> Artifact:
        stamp = datetime.now(UTC)
        artifact_id = new.id or next(self._ids)
        artifact = Artifact(id=artifact_id, created_at=new.created_at or stamp, updated_at=stamp,
                            has_image=image_key is not None,
                            image_content_type=image_content_type,
                            image_sha256=image_key.split(".")[0] if image_key else None,
                            **new.model_dump(exclude={"id", "created_at", "updated_at"}))
        self.rows[artifact_id] = artifact
        self.inputs += [Edge(artifact_id=artifact_id, input_id=i) for i in dict.fromkeys(inputs)]
        if image_key is not None:
            self.images[artifact_id] = (image_key, image_content_type or "")
        return artifact

    def get(self, artifact_id: int) -> Artifact | None:
        return self.rows.get(artifact_id)

    def edges(self, ids: Iterable[int], direction: str) -> list[Edge]:
        wanted = set(ids)
        near = (lambda e: e.artifact_id) if direction == "up" else (lambda e: e.input_id)
        return [e for e in self.inputs if near(e) in wanted]

    def dangling_edges(self, limit: int = 1000) -> list[Edge]:
        return [e for e in self.inputs if e.input_id not in self.rows][:limit]

    def existing_ids(self, ids: Iterable[int]) -> set[int]:
        return {i for i in ids if i in self.rows}

    def get_many(self, ids: Iterable[int]) -> list[Artifact]:
        return [self.rows[i] for i in ids if i in self.rows]

    def image_of(self, artifact_id: int) -> tuple[str, str] | None:
        return self.images.get(artifact_id)

    def set_image(self, artifact_id: int, image_key: str, image_content_type: str) -> bool:
        """Attach an image to an artifact that has none; False if it already had one."""
        row = self.rows.get(artifact_id)
        if row is None or artifact_id in self.images:
            return False
        self.images[artifact_id] = (image_key, image_content_type)
        self.rows[artifact_id] = row.model_copy(update={
            "has_image": True, "image_content_type": image_content_type,
            "image_sha256": image_key.split(".")[0]})
        return True

    def list(self, limit: int = 50, cursor: str | None = None, lineage: str | None = None,
             **filters: str | None) -> tuple[list[Artifact], str | None]:
        """Newest first, the real repository's cursors; filters are exact matches."""
        unknown = [k for k in filters if k not in FILTERS]
        if unknown or lineage not in (None, "persisted", "repaired", "pending"):
            raise ValueError(f"unknown filter {unknown or lineage!r}")
        before = decode_cursor(cursor) if cursor else None
        rows = [a for _, a in sorted(self.rows.items(), reverse=True)
                if (before is None or a.id < before)
                and (lineage is None or a.lineage_status.value == lineage)
                and all(v is None or getattr(a, k) == v for k, v in filters.items())]
        items = rows[:limit]
        return items, encode_cursor(items[-1].id) if len(rows) > limit else None

    def by_execution(self, execution_id: str) -> list[Artifact]:
        return [a for _, a in sorted(self.rows.items()) if a.execution_id == execution_id]

    def missing_lineage(self, after_id: int = 0, limit: int = 1000,
                        workflow_id: str | None = None) -> list[Artifact]:
        return [a for _, a in sorted(self.rows.items())
                if a.id > after_id and a.run_id is None and a.execution_id is not None
                and workflow_id in (None, a.workflow_id)][:limit]

    def missing_lineage_keys(self, after_id: int = 0, limit: int = 1000,
                             workflow_id: str | None = None, max_id: int | None = None
                             ) -> list[tuple[int, str | None, str]]:
        return [(a.id, a.workflow_id, a.execution_id) for _, a in sorted(self.rows.items())
                if after_id < a.id <= (max_id or a.id) and a.run_id is None
                and a.execution_id is not None and workflow_id in (None, a.workflow_id)][:limit]

    def missing_lineage_backlog(self, workflow_id: str | None = None) -> tuple[int, int, int]:
        keys = self.missing_lineage_keys(limit=len(self.rows), workflow_id=workflow_id)
        return len(keys), len({(w, e) for _, w, e in keys}), max((i for i, _, _ in keys),
                                                                  default=0)

    def missing_lineage_of(self, execution_ids: Iterable[str], workflow_id: str | None = None,
                           max_id: int | None = None) -> list[tuple[int, str | None, str]]:
        wanted = set(execution_ids)
        return [k for k in self.missing_lineage_keys(limit=len(self.rows),
                                                     workflow_id=workflow_id, max_id=max_id)
                if k[2] in wanted]

    def set_lineage(self, updates: Sequence[tuple[int, Lineage]], source: str,
                    lock_timeout: float | None = None) -> list[int]:
        """Fill in lineage only where it is still missing, one audit row each."""
        stamp = datetime.now(UTC)
        repaired = []
        for artifact_id, lineage in updates:
            row = self.rows.get(artifact_id)
            if row is None or row.run_id is not None:
                continue
            self.rows[artifact_id] = row.model_copy(update={
                "run_id": lineage.run_id, "experiment_id": lineage.experiment_id,
                "lineage_repaired_at": stamp, "updated_at": stamp})
            self.audit.append(RepairRecord(artifact_id=artifact_id, run_id=lineage.run_id,
                                           experiment_id=lineage.experiment_id, source=source,
                                           repaired_at=stamp))
            repaired.append(artifact_id)
        return repaired

    def revisions(self, ids: Iterable[int]) -> dict[int, list]:
        """Recorded content revisions (the fake records none)."""
        return {}

    def repairs(self, artifact_id: int | None = None, limit: int = 1000) -> list[RepairRecord]:
        """The audit log, newest first."""
        return [r for r in reversed(self.audit)
                if artifact_id in (None, r.artifact_id)][:limit]
