"""What the repair, verify and import jobs report: one model each, for the HTTP response,
the CLI's `--json` and the Airflow task's return value alike."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field


class Report(BaseModel):
    """A job's report; `ok` when nothing went wrong."""

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ReportSink(Protocol):
    """Where a job puts the items of its report's lists (`repaired`, `imported`, ...) as it
    goes, so a caller can stream them instead of holding them all."""

    counts: Counter[str]

    def add(self, key: str, item: Any) -> None: ...


class Collect:
    """The default sink: items go into the report's own lists (the HTTP route's and the
    Airflow task's whole report)."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.counts: Counter[str] = Counter()

    def add(self, key: str, item: Any) -> None:
        self.counts[key] += 1
        getattr(self.report, key).append(item)


class Recorder:
    """Keeps items in order to hand to another sink later (a page done in another process)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self.counts: Counter[str] = Counter()

    def add(self, key: str, item: Any) -> None:
        self.counts[key] += 1
        self.items.append((key, item))

    def replay(self, sink: ReportSink) -> None:
        for key, item in self.items:
            sink.add(key, item)


class Sample(Collect):
    """Keeps the first `keep` items of each list (what a person reads) and counts the rest."""

    def __init__(self, report: Report, keep: int = 50) -> None:
        super().__init__(report)
        self.keep = keep

    def add(self, key: str, item: Any) -> None:
        if self.counts[key] < self.keep:
            getattr(self.report, key).append(item)
        self.counts[key] += 1


class RepairRecord(BaseModel):
    """One row of the append-only lineage audit log."""

    artifact_id: int
    run_id: str
    experiment_id: str
    source: str = Field(description="hydrate (on read), repair (the job) or attach (PATCH)")
    repaired_at: datetime


class RepairLog(Report):
    """Audit rows, newest first."""

    items: list[RepairRecord]


class RepairedArtifact(BaseModel):
    artifact_id: int
    run_id: str
    experiment_id: str


class RepairReport(Report):
    """What one repair pass found and did (the CONTRACT's keys, plus bookkeeping)."""

    dry_run: bool = False
    scanned: int = 0
    repaired: list[RepairedArtifact] = Field(default_factory=list)
    unresolved: list[int] = Field(default_factory=list)
    skipped: list[int] = Field(default_factory=list, description=(
        "Artifacts another writer repaired first."))
    errors: list[str] = Field(default_factory=list)
    executions: int = 0
    tracking_calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class Mismatch(BaseModel):
    artifact_id: int
    run_id: str | None
    experiment_id: str | None
    problem: str
    check: str = Field("lineage", description=(
        "what caught it: lineage (the run), content (the stored hash), revision (a hash "
        "no recorded revision explains), manifest (the run's own record) or chain (a "
        "missing link)"))


class VerifyReport(Report):
    """Artifacts checked, the runs they name, and every disagreement found."""

    checked: int = 0
    runs: int = 0
    mismatches: list[Mismatch] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    tracking_calls: int = 0
    revised: int = Field(0, description=(
        "Artifacts whose content changed after it was stored by recorded revisions (PATCH, "
        "image attach) that explain their current hash: not a problem."))

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.errors


class RowProblem(BaseModel):
    id: Any
    reason: str


class ImportReport(Report):
    """Every source row ends up in exactly one of imported, skipped or failed."""

    source: str
    dry_run: bool = Field(default=False, description="Nothing was written; `imported` would be.")
    total: int = 0
    imported: list[int] = Field(default_factory=list)
    skipped: list[int] = Field(default_factory=list, description="Already imported before.")
    # A conflict (an id held by a different artifact) is a failed row whose reason says so.
    failed: list[RowProblem] = Field(default_factory=list)
    warnings: list[RowProblem] = Field(default_factory=list)
    inferred_edges: int = Field(0, description=(
        "Decision-chain edges guessed by step order within imported executions."))

    @property
    def ok(self) -> bool:
        return not self.failed

