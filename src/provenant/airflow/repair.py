"""The repair DAG's task body, in plain Python: Airflow only schedules the call."""
from __future__ import annotations

from provenant import runtime
from provenant.bootstrap import get_services
from provenant.domain.reports import RepairReport, Sample


class RepairFailed(RuntimeError):
    """The repair pass reported errors (what it could resolve was still written)."""


def run_repair() -> dict:
    """One repair pass with the PROVENANT_* settings; a summary for XCom.

    Each repaired artifact is already named in its own structured log line, so XCom
    keeps only counts: a pass over many legacy rows must not bloat Airflow's database.
    """
    counts = Sample(RepairReport(), keep=0)  # counts only: the lists may be millions long
    report = runtime.repair(get_services(), sink=counts)
    if report.errors:
        raise RepairFailed("lineage repair failed: " + "; ".join(report.errors))
    return {"scanned": report.scanned, "repaired": counts.counts["repaired"],
            "unresolved": counts.counts["unresolved"], "executions": report.executions,
            "tracking_calls": report.tracking_calls}
