"""Change an artifact after it was stored, as the previous system's DAG does: merge fields into
its payload, and attach lineage once (a run MLflow knows, never replacing different lineage)."""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from provenant.adapters.tracking import EXECUTION_TAG, WORKFLOW_TAG, Tracker
from provenant.domain.artifacts import Artifact, validate_payload
from provenant.domain.errors import Conflict, NotFound, Refused, describe_error
from provenant.domain.legacy import merged_payload
from provenant.domain.lineage import Lineage
from provenant.lineage.audit import record_repairs
from provenant.store.repository import ArtifactRepository


def patch_artifact(repository: ArtifactRepository, tracker: Tracker, artifact_id: int,
                   updates: dict[str, Any], run_id: str | None = None,
                   experiment_id: str | None = None) -> Artifact:
    """Validate the merged payload first, then attach lineage, then write the payload."""
    artifact = repository.get(artifact_id)
    if artifact is None:
        raise NotFound(f"artifact {artifact_id} not found")
    payload = None
    if updates:
        try:
            payload = validate_payload(artifact.type, merged_payload(artifact.payload, updates))
        except ValidationError as exc:
            raise Refused(f"the merged payload is not a valid {artifact.type} payload: "
                          f"{describe_error(exc)}") from None
    if run_id is not None or experiment_id is not None:
        artifact = attach_lineage(repository, tracker, artifact, run_id, experiment_id)
    if payload is not None and payload != artifact.payload:
        if not repository.replace_payload(artifact_id, payload, artifact.updated_at):
            raise Conflict(f"artifact {artifact_id} changed while it was being updated; "
                           f"read it again and retry")
    return repository.get(artifact_id)


def attach_lineage(repository: ArtifactRepository, tracker: Tracker, artifact: Artifact,
                   run_id: str | None, experiment_id: str | None) -> Artifact:
    """Name the run that made an artifact; the same lineage again is a harmless retry."""
    if run_id is None:
        if experiment_id == artifact.experiment_id:
            return artifact
        raise Refused("experiment_id needs a run_id")
    run = tracker.get_run(run_id)
    if run is None:
        raise NotFound(f"MLflow run {run_id} does not exist")
    if experiment_id not in (None, run.experiment_id):
        raise Refused(f"MLflow run {run_id} belongs to experiment {run.experiment_id}, "
                      f"not {experiment_id}")
    _check_tags(artifact, run.tags)
    lineage = Lineage(run_id, run.experiment_id)
    if artifact.lineage is None:
        record_repairs(repository, [(artifact.id, lineage)], "attach")
        artifact = repository.get(artifact.id)  # another writer may have been first
    if artifact.lineage != lineage:
        raise Conflict(f"artifact {artifact.id} already names MLflow run {artifact.run_id} "
                       f"(experiment {artifact.experiment_id}); lineage is never replaced")
    return artifact


def _check_tags(artifact: Artifact, tags: dict[str, str] | Any) -> None:
    """A run tagged with another workflow or execution did not make this artifact."""
    for tag, mine in ((WORKFLOW_TAG, artifact.workflow_id),
                      (EXECUTION_TAG, artifact.execution_id)):
        theirs = tags.get(tag)
        if mine and theirs and mine != theirs:
            raise Conflict(f"MLflow run is tagged {tag}={theirs!r}, but artifact "
                           f"{artifact.id} has {tag}={mine!r}")
