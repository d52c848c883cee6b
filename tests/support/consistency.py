"""What must hold after any crash or fault: lineage and its audit row come together or not at all."""
from __future__ import annotations

from sqlalchemy import Engine, and_, func, or_, select

from provenant.store.tables import artifacts, lineage_repairs


def torn_rows(engine: Engine) -> list[int]:
    """Artifacts whose repaired lineage and audit row disagree (one without the other, or differ).

    Artifacts stored with their lineage (never repaired) have neither and are fine.
    """
    a, r = artifacts.c, lineage_repairs.c
    query = (select(a.id).select_from(artifacts.outerjoin(lineage_repairs, r.artifact_id == a.id))
             .where(or_(
                 and_(a.lineage_repaired_at.is_not(None), r.id.is_(None)),
                 and_(r.id.is_not(None), or_(a.lineage_repaired_at.is_(None), a.run_id.is_(None),
                                             a.run_id != r.run_id,
                                             a.experiment_id != r.experiment_id))))
             .order_by(a.id))
    with engine.connect() as conn:
        return list(conn.scalars(query))


def audit_counts(engine: Engine) -> dict[int, int]:
    """Audit rows per artifact id."""
    r = lineage_repairs.c
    with engine.connect() as conn:
        return dict(conn.execute(select(r.artifact_id, func.count()).group_by(r.artifact_id)).all())


def lineage_of(engine: Engine) -> dict[int, tuple[str | None, str | None]]:
    """Every artifact's (run_id, experiment_id)."""
    a = artifacts.c
    with engine.connect() as conn:
        return {row.id: (row.run_id, row.experiment_id)
                for row in conn.execute(select(a.id, a.run_id, a.experiment_id))}


def assert_consistent(engine: Engine) -> int:
    """No torn rows and at most one audit row per artifact; returns how many are audited."""
    assert torn_rows(engine) == []
    counts = audit_counts(engine)
    assert all(n == 1 for n in counts.values()), {i: n for i, n in counts.items() if n != 1}
    return len(counts)
