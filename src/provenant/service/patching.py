"""Change an artifact after it was stored, as the previous system's DAG does: merge fields into
its payload (a recorded revision; never once its run's manifest lists it), and attach lineage
once (a run MLflow knows, never replacing different lineage)."""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from provenant.adapters.tracking import EXECUTION_TAG, WORKFLOW_TAG, Tracker
from provenant.domain.artifacts import Artifact, validate_payload
from provenant.domain.errors import Conflict, NotFound, Refused, Sealed, describe_error
from provenant.domain.legacy import merged_payload
from provenant.domain.lineage import Lineage
from provenant.domain.provenance import RUN_MANIFEST_PATH, RUN_MANIFEST_TAG
from provenant.lineage.audit import record_repairs
from provenant.lineage.integrity import read_run_manifest
from provenant.store.repository import ArtifactRepository


def patch_artifact(repository: ArtifactRepository, tracker: Tracker, artifact_id: int,
                   updates: dict[str, Any], run_id: str | None = None,
                   experiment_id: str | None = None) -> Artifact:
    """Validate the merged payload and refuse a sealed artifact first, then attach lineage,
    then write the payload.

    A payload change re-computes the content hash and records a revision (old hash, new
    hash, changed keys, when); an artifact its run's manifest lists is sealed (Conflict,
    nothing written). Sending values it already has changes nothing, sealed or not.
    """
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
    changed = _changed_keys(artifact.payload, payload) if payload is not None else []
    if changed:
        refuse_if_sealed(tracker, artifact, artifact.run_id or run_id)
    if run_id is not None or experiment_id is not None:
        artifact = attach_lineage(repository, tracker, artifact, run_id, experiment_id)
    if changed:
        if not repository.replace_payload(artifact_id, payload, artifact.updated_at, changed):
            raise Conflict(f"artifact {artifact_id} changed while it was being updated; "
                           f"read it again and retry")
    return repository.get(artifact_id)


def _changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def refuse_if_sealed(tracker: Tracker, artifact: Artifact, run_id: str | None) -> None:
    """Sealed (a Conflict) when the run's manifest (`provenant/manifest.json`, logged when the
    workflow finished) records the artifact's hash: the row says so since migration 0006;
    for manifests logged before it, the manifest itself is read from MLflow."""
    if artifact.sealed_by_run:
        raise Sealed(artifact.id, artifact.sealed_by_run)
    run = tracker.get_run(run_id) if run_id else None
    if run is None or RUN_MANIFEST_TAG not in run.tags:
        return
    manifest = read_run_manifest(tracker, run)
    if isinstance(manifest, str):
        raise Conflict(f"artifact {artifact.id} may be sealed by run {run_id}'s manifest, "
                       f"which cannot be checked ({manifest}); nothing was written")
    if artifact.id in manifest:
        raise Sealed(artifact.id, run_id, f" ({RUN_MANIFEST_PATH} records its content hash)")


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
