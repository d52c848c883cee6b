"""The artifact JSON of the CONTRACT: request bodies in, artifacts and audit rows out."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel, ConfigDict, ValidationError, ValidationInfo, create_model, field_validator,
    model_validator,
)

from provenant.config import Settings
from provenant.domain.artifacts import (
    Artifact, ArtifactType, NewArtifact, WorkflowContext, validate_payload,
)
from provenant.domain.lineage import LineageStatus, is_valid_run_id, mlflow_run_url
from provenant.store.repository import LineageRepair


def describe_errors(errors: Iterable[dict]) -> str:
    """One readable clause per validation error: `field.path: message`."""
    return "; ".join(f"{_where(tuple(e.get('loc', ())))}: "
                     f"{str(e.get('msg', 'invalid')).removeprefix('Value error, ')}"
                     for e in errors)


def _where(loc: tuple) -> str:
    # "body"/"query"/"path" say where; the field path is what a client needs to fix.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


class _ArtifactInRules(WorkflowContext):
    """What the API adds to the domain's rules for a new artifact."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("run_id", check_fields=False)
    @classmethod
    def _run_id_is_mlflow_shaped(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_run_id(value):
            raise ValueError("an MLflow run id is 32 hexadecimal characters")
        return value

    @field_validator("payload", check_fields=False)
    @classmethod
    def _payload_fits_type(cls, payload: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("type")
        if kind is None:  # the type itself was invalid; that error is enough
            return payload
        try:
            return validate_payload(kind, payload)
        except ValidationError as exc:
            reasons = describe_errors(exc.errors())
            raise ValueError(f"not a valid {kind} payload: {reasons}") from None

    @model_validator(mode="after")
    def _run_with_experiment(self) -> "_ArtifactInRules":
        # A run id alone is fine (its experiment is looked up), an experiment alone is not.
        run_id, experiment_id = getattr(self, "run_id", None), getattr(self, "experiment_id", None)
        if experiment_id is not None and run_id is None:
            raise ValueError("experiment_id needs a run_id")
        return self


# The body's fields are the domain's, with the same limits; ids and timestamps are the server's.
_BODY_FIELDS = ("type", "name", "symbol", "run_id", "experiment_id", "payload")
ArtifactIn = create_model(
    "ArtifactIn", __base__=_ArtifactInRules,
    __doc__="Body of `POST /api/artifacts`; the payload is validated for its type.",
    **{name: (field.annotation, field) for name, field in NewArtifact.model_fields.items()
       if name in _BODY_FIELDS})


class LineageOut(BaseModel):
    status: LineageStatus
    mlflow_run_url: str | None
    repaired_at: datetime | None


class ArtifactOut(BaseModel):
    id: int
    type: ArtifactType
    name: str
    symbol: str | None
    workflow_id: str | None
    execution_id: str | None
    step_name: str | None
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    experiment_id: str | None
    created_at: datetime
    updated_at: datetime | None
    payload: dict[str, Any]
    has_image: bool
    image_url: str | None
    lineage: LineageOut


class ArtifactPage(BaseModel):
    items: list[ArtifactOut]
    next_cursor: str | None


class RunOut(BaseModel):
    run_id: str
    experiment_id: str
    mlflow_run_url: str | None


class ExecutionOut(BaseModel):
    execution_id: str
    run: RunOut | None
    artifacts: list[ArtifactOut]


class RepairOut(BaseModel):
    artifact_id: int
    run_id: str
    experiment_id: str
    source: str
    repaired_at: datetime


class RepairList(BaseModel):
    items: list[RepairOut]


def artifact_out(artifact: Artifact, status: LineageStatus, settings: Settings) -> ArtifactOut:
    """The CONTRACT's artifact JSON, with the deep link and the lineage status of this read."""
    return ArtifactOut(
        **artifact.model_dump(include=set(ArtifactOut.model_fields) - {"lineage", "image_url"}),
        image_url=f"/api/artifacts/{artifact.id}/image" if artifact.has_image else None,
        lineage=LineageOut(status=status,
                           mlflow_run_url=mlflow_run_url(settings.mlflow_ui_url, artifact.lineage),
                           repaired_at=artifact.lineage_repaired_at))


def repair_out(repair: LineageRepair) -> RepairOut:
    """One audit row as JSON."""
    return RepairOut(artifact_id=repair.artifact_id, run_id=repair.run_id,
                     experiment_id=repair.experiment_id, source=repair.source,
                     repaired_at=repair.repaired_at)
