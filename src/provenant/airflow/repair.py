"""The repair DAG's task body, in plain Python: Airflow only schedules the call."""
from __future__ import annotations

from provenant import runtime
from provenant.bootstrap import get_services


class RepairFailed(RuntimeError):
    """The repair pass reported errors (what it could resolve was still written)."""


def run_repair() -> dict:
    """One repair pass with the PROVENANT_* settings; a summary for XCom.

    Each repaired artifact is already named in its own structured log line, so XCom
    keeps only counts: a pass over many legacy rows must not bloat Airflow's database.
    """
    report = runtime.repair(get_services())
    if report.errors:
        raise RepairFailed("lineage repair failed: " + "; ".join(report.errors))
    return {"scanned": report.scanned, "repaired": len(report.repaired),
            "unresolved": len(report.unresolved), "executions": report.executions,
            "tracking_calls": report.tracking_calls}
