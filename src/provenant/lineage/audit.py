"""Record lineage repairs: conditional write + audit row + one structured log line each."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from prometheus_client import Counter

from provenant.domain.lineage import Lineage
from provenant.store.repository import ArtifactRepository

log = logging.getLogger("provenant.lineage")

REPAIRS = Counter("provenant_lineage_repairs", "Artifacts whose lineage was filled in",
                  ["source"])


def record_repairs(repository: ArtifactRepository, updates: Sequence[tuple[int, Lineage]],
                   source: str, lock_timeout: float | None = None) -> list[int]:
    """Write lineage where still missing; log and count each artifact actually repaired.

    `source` is "hydrate" (on read), "repair" (the job) or "attach" (a client named the run,
    `PATCH /api/artifacts/{id}`). Returns the repaired ids;
    artifacts another writer repaired first are skipped, so each is logged once.
    `lock_timeout` bounds the wait for another writer's lock (a read has a deadline).
    """
    repaired = repository.set_lineage(updates, source, lock_timeout)
    lineage_of = dict(updates)
    for artifact_id in repaired:
        lineage = lineage_of[artifact_id]
        log.info(json.dumps({"event": "lineage_repaired", "artifact_id": artifact_id,
                             "run_id": lineage.run_id, "experiment_id": lineage.experiment_id,
                             "source": source}))
    if repaired:
        REPAIRS.labels(source).inc(len(repaired))
    return repaired
