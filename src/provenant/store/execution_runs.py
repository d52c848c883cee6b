"""Which MLflow run belongs to which (workflow_id, execution_id): the claim table."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from provenant.domain.lineage import Lineage
from provenant.store.repository import now
from provenant.store.tables import execution_runs

_c = execution_runs.c
_CHUNK = 500  # execution ids per IN (...) list

# (workflow_id, execution_id); a legacy artifact may have no workflow id.
ExecutionKey = tuple[str | None, str]


class ExecutionRunRegistry:
    """First claim wins: its primary key makes one run per execution across processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, workflow_id: str, execution_id: str) -> Lineage | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_c.run_id, _c.experiment_id).where(
                _c.workflow_id == workflow_id, _c.execution_id == execution_id)).first()
        return Lineage(row.run_id, row.experiment_id) if row else None

    def find_by_execution(self, execution_id: str) -> Lineage | None:
        """The claimed run of an execution id, whatever its workflow (newest claim)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_c.run_id, _c.experiment_id)
                               .where(_c.execution_id == execution_id)
                               .order_by(_c.created_at.desc())).first()
        return Lineage(row.run_id, row.experiment_id) if row else None

    def lookup(self, keys: Iterable[ExecutionKey]) -> dict[ExecutionKey, Lineage]:
        """Claimed runs of many executions in a few queries; a key without a workflow takes
        the execution's newest claim."""
        wanted = set(keys)
        executions = sorted({execution for _, execution in wanted})
        found: dict[ExecutionKey, Lineage] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(executions), _CHUNK):
                rows = conn.execute(
                    select(_c.workflow_id, _c.execution_id, _c.run_id, _c.experiment_id)
                    .where(_c.execution_id.in_(executions[start:start + _CHUNK]))
                    .order_by(_c.created_at.desc()))
                for row in rows:
                    lineage = Lineage(row.run_id, row.experiment_id)
                    for key in ((row.workflow_id, row.execution_id), (None, row.execution_id)):
                        if key in wanted:
                            found.setdefault(key, lineage)
        return found

    def claim(self, workflow_id: str, execution_id: str, lineage: Lineage) -> Lineage:
        """Record lineage for the execution unless another process did first; return the winner."""
        try:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                conn.execute(insert(execution_runs).values(
                    workflow_id=workflow_id, execution_id=execution_id, run_id=lineage.run_id,
                    experiment_id=lineage.experiment_id, created_at=now()))
            return lineage
        except IntegrityError:
            winner = self.get(workflow_id, execution_id)
            assert winner is not None, "a claim that conflicted must be readable"
            return winner

    def forget(self, workflow_id: str, execution_id: str) -> None:
        """Drop a claim whose run no longer exists in MLflow."""
        with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
            conn.execute(delete(execution_runs).where(
                _c.workflow_id == workflow_id, _c.execution_id == execution_id))
