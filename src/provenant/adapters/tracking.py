"""What lineage needs from an experiment tracker: MLflow in production, a fake in unit tests."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from provenant.domain.lineage import Lineage

# Every run opened by mlflow_run_context carries these two tags (the CONTRACT's names).
WORKFLOW_TAG = "workflow_id"
EXECUTION_TAG = "execution_id"


class TrackingUnavailable(RuntimeError):
    """The tracking store could not be asked (down, slow or refusing)."""


@dataclass(frozen=True, slots=True)
class TrackedRun:
    """One active run as lineage sees it: ids, tags and when it started."""

    run_id: str
    experiment_id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    start_time: int = 0  # milliseconds since the epoch
    status: str = "RUNNING"
    artifact_uri: str = ""  # where its files live, when the answer said (one request per file)

    @property
    def lineage(self) -> Lineage:
        return Lineage(self.run_id, self.experiment_id)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What a run recorded: its params, latest metrics and tags (for evidence bundles)."""

    run_id: str
    experiment_id: str
    status: str
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Active runs whose tags equal `tags` exactly and that carry the tag `has_tag`."""

    tags: tuple[tuple[str, str], ...] = ()
    has_tag: str | None = None

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Exact check, for stores whose filter could only approximate a value."""
        if self.has_tag is not None and self.has_tag not in tags:
            return False
        return all(tags.get(key) == value for key, value in self.tags)


class Tracker(Protocol):
    """The tracking calls Provenant makes; `calls` counts round trips (metrics, benchmarks)."""

    tracking_uri: str
    calls: int

    def ensure_reachable(self) -> None:
        """Raise TrackingUnavailable within seconds when the store does not answer."""

    def experiment_ids(self) -> list[str]:
        """Every active experiment."""

    def run_pages(self, query: RunQuery, experiment_ids: list[str] | None = None,
                  page_size: int = 1000) -> Iterator[list[TrackedRun]]:
        """Matching active runs, newest start first, one list per round trip."""

    def get_run(self, run_id: str) -> TrackedRun | None:
        """The run, or None when it does not exist or was deleted."""

    def run_record(self, run_id: str) -> RunRecord | None:
        """A run's params, metrics and tags; None when it does not exist or was deleted."""

    def run_file(self, run_id: str, path: str) -> bytes | None:
        """A file logged into a run (path inside the run); None when there is none."""

    def run_files(self, runs: list[TrackedRun], path: str) -> dict[str, bytes | None]:
        """The same file of many runs (run id -> bytes, None when a run has none); one
        request per run, several at a time."""

    def runs_by_id(self, run_ids: list[str],
                   experiment_ids: list[str] | None = None) -> dict[str, TrackedRun]:
        """Active runs by id, in a few round trips."""

    def create_run(self, experiment_name: str, tags: dict[str, str],
                   run_name: str) -> TrackedRun:
        """A new run in the named experiment (created or restored as needed)."""

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Tag a run."""

    def set_status(self, run_id: str, status: str) -> None:
        """RUNNING, FINISHED or FAILED."""

    def delete_run(self, run_id: str) -> None:
        """Delete a run (one that lost a race to claim its execution)."""

    def log_run(self, run_id: str, *, params: dict[str, str], metrics: dict[str, float],
                tags: dict[str, str], files: dict[str, bytes]) -> None:
        """Log params, metrics, tags and files (path inside the run -> bytes) into a run."""
