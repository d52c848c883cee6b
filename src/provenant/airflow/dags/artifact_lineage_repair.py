"""Airflow DAG `artifact_lineage_repair`: the lineage repair job every ten minutes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, task


@dag(
    dag_id="artifact_lineage_repair",
    schedule=timedelta(minutes=10),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,  # one pass repairs everything pending: missed intervals need no replay
    max_active_runs=1,  # passes are idempotent, but overlapping ones only waste MLflow calls
    dagrun_timeout=timedelta(minutes=30),
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["provenant", "lineage"],
    doc_md=__doc__,
)
def artifact_lineage_repair():
    @task(task_id="repair_lineage", multiple_outputs=False)
    def repair() -> dict:
        """Fill in run ids for artifacts stored without one (PROVENANT_* settings)."""
        from provenant.airflow.repair import run_repair  # in the task: keeps DAG parsing light

        return run_repair()

    repair()


artifact_lineage_repair()
