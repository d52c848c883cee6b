"""Build the previous system's database (its wide `artifacts` table) on SQLite or PostgreSQL."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON, Column, DateTime, Float, Integer, MetaData, String, Table, Text, create_engine, insert,
    text)

QA_EXECUTION_ID = "2025-11-15 13:54:31.981650+00:00"
QA_CREATED_AT = datetime(2025, 11, 15, 13, 54, 40, tzinfo=UTC)
WORKFLOW = "ibkr_trading_signal_workflow"

metadata = MetaData()
legacy_artifacts = Table(
    "artifacts", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255)),
    Column("type", String(50), nullable=False),
    Column("symbol", String(20)),
    Column("run_id", String(255)),
    Column("experiment_id", String(255)),
    Column("workflow_id", String(255)),
    Column("execution_id", String(255)),
    Column("step_name", String(255)),
    Column("dag_id", String(255)),
    Column("task_id", String(255)),
    Column("prompt", Text),
    Column("response", Text),
    Column("prompt_length", Integer),
    Column("response_length", Integer),
    Column("model_name", String(100)),
    Column("image_path", String(500)),
    Column("chart_type", String(50)),
    Column("chart_data", JSON),
    Column("action", String(10)),
    Column("confidence", Float),
    Column("signal_data", JSON),
    Column("artifact_metadata", JSON),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)


class LegacyDb:
    """A legacy database at `url` with the old `artifacts` table created empty."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        metadata.create_all(self.engine)

    def add(self, *rows: dict[str, Any]) -> "LegacyDb":
        with self.engine.begin() as conn:
            conn.execute(insert(legacy_artifacts), [_complete(r) for r in rows])
        return self

    def close(self) -> None:
        self.engine.dispose()


def _complete(row: dict[str, Any]) -> dict[str, Any]:
    """Every column present (executemany needs the same keys), unset ones NULL."""
    stamp = row.get("created_at", QA_CREATED_AT)
    return {c.name: row.get(c.name) for c in legacy_artifacts.columns} | {
        "created_at": stamp, "updated_at": row.get("updated_at", stamp)}


def chart_row(id: int, execution_id: str = QA_EXECUTION_ID, **extra: Any) -> dict[str, Any]:
    """A legacy daily chart, null lineage by default (like the QA case, artifact 24)."""
    return {"id": id, "type": "chart", "name": "TSLA daily chart", "symbol": "TSLA",
            "workflow_id": WORKFLOW, "execution_id": execution_id,
            "step_name": "generate_daily_chart", "dag_id": WORKFLOW,
            "task_id": "generate_daily_chart", "chart_type": "daily",
            "chart_data": {"bars": 60, "indicators": ["sma_20"]}, **extra}


def llm_row(id: int, execution_id: str = QA_EXECUTION_ID, **extra: Any) -> dict[str, Any]:
    prompt, response = "Analyse the TSLA daily chart.", "Uptrend; momentum positive."
    return {"id": id, "type": "llm", "name": "TSLA analysis", "symbol": "TSLA",
            "workflow_id": WORKFLOW, "execution_id": execution_id,
            "step_name": "analyze_with_llm", "prompt": prompt, "response": response,
            "prompt_length": len(prompt), "response_length": len(response),
            "model_name": "gpt-4o-mini", **extra}


def signal_row(id: int, execution_id: str = QA_EXECUTION_ID, action: str = "BUY",
               confidence: float = 0.72, signal_data: Any = None,
               **extra: Any) -> dict[str, Any]:
    return {"id": id, "type": "signal", "name": "TSLA signal", "symbol": "TSLA",
            "workflow_id": WORKFLOW, "execution_id": execution_id,
            "step_name": "generate_signal", "action": action, "confidence": confidence,
            "signal_data": signal_data if signal_data is not None else {"reason": "sma cross"},
            **extra}


def sqlite_legacy_url(path) -> str:
    return f"sqlite:///{path}"


@contextmanager
def postgres_legacy_url(base_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of its own (dropped afterwards)."""
    schema = f"legacy_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def create_run(client, experiment_id: str, execution_id: str | None,
               workflow_id: str | None = WORKFLOW, start_time: int = 1_763_214_871_000,
               finish: bool = True) -> Any:
    """An MLflow run tagged like the old system's (workflow tag optional)."""
    tags = {k: v for k, v in (("execution_id", execution_id), ("workflow_id", workflow_id))
            if v is not None}
    run = client.create_run(experiment_id, start_time=start_time, tags=tags)
    if finish:
        client.set_terminated(run.info.run_id, end_time=start_time + 1000)
    return run


def bulk_create_runs(tracking_uri: str, experiment_id: str,
                     runs: list[tuple[str, str | None, int]]) -> list[str]:
    """Many (execution_id, workflow_id, start_time) runs in one transaction of MLflow's store.

    The rows are exactly those MLflow's own SqlAlchemyStore.create_run writes, built with
    its own models; one commit instead of one per run keeps 2,000 runs to a second or two.
    """
    import tempfile

    from mlflow.entities import LifecycleStage, RunStatus, SourceType
    from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(tracking_uri, tempfile.gettempdir())
    location = store.get_experiment(experiment_id).artifact_location
    ids = []
    with store.ManagedSessionMaker(read_only=False) as session:
        for n, (execution_id, workflow_id, start_time) in enumerate(runs):
            run_id = uuid.uuid4().hex
            tags = {"execution_id": execution_id, "workflow_id": workflow_id,
                    "mlflow.runName": f"legacy-{n}"}
            run = SqlRun(name=f"legacy-{n}", artifact_uri=f"{location}/{run_id}/artifacts",
                         run_uuid=run_id, experiment_id=int(experiment_id),
                         source_type=SourceType.to_string(SourceType.UNKNOWN), source_name="",
                         entry_point_name="", user_id="legacy", source_version="",
                         status=RunStatus.to_string(RunStatus.FINISHED), start_time=start_time,
                         end_time=start_time + 1000, deleted_time=None,
                         lifecycle_stage=LifecycleStage.ACTIVE)
            run.tags = [SqlTag(key=k, value=v) for k, v in tags.items() if v is not None]
            session.add(run)
            ids.append(run_id)
    store.engine.dispose()
    return ids
