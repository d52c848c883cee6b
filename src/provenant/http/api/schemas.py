"""The artifact JSON of the CONTRACT: request bodies in, artifacts and audit rows out."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, create_model,
    field_validator, model_validator,
)

from provenant.config import Settings
from provenant.domain.artifacts import (
    PAYLOAD_MODELS, Artifact, ArtifactType, NewArtifact, WorkflowContext, validate_payload,
)
from provenant.domain.errors import describe_errors
from provenant.domain.legacy import wide_fields
from provenant.domain.lineage import (
    RUN_ID_PATTERN, LineageStatus, is_valid_run_id, mlflow_run_url)


def _document_the_rules(schema: dict[str, Any]) -> None:
    """Say in the OpenAPI schema what the validators enforce, so clients can see it.

    The payload's keys depend on `type` (one branch per type), a run id is 32 hex digits,
    and an experiment id comes only with a run id.
    """
    run_id = schema["properties"]["run_id"]
    for branch in run_id.get("anyOf", [run_id]):
        if branch.get("type") == "string":
            branch["pattern"] = RUN_ID_PATTERN
    schema["anyOf"] = [{"properties": {"experiment_id": {"type": "null"}}},
                       {"required": ["run_id"], "properties": {"run_id": {"type": "string"}}}]
    branches = []
    for kind, model in PAYLOAD_MODELS.items():
        payload = model.model_json_schema()
        branch: dict[str, Any] = {"properties": {"type": {"const": kind.value},
                                                 "payload": payload}}
        if payload.get("required"):  # an absent payload is {}: fine only without required keys
            branch["required"] = ["payload"]
        branches.append(branch)
    schema["oneOf"] = branches


class _ArtifactInRules(WorkflowContext):
    """What the API adds to the domain's rules for a new artifact."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_the_rules)

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
            # Strictly: over HTTP a number is a JSON number ("0.5" is refused, not read).
            return validate_payload(kind, _integral_floats_as_ints(payload), strict=True)
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


def _integral_floats_as_ints(value: Any) -> Any:
    """JSON does not tell 2 from 2.0, so neither may strict validation of an integer field."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def json_int(**bounds: int) -> Any:
    """An integer field of a strictly validated body that takes 2.0 as 2 (JSON cannot tell
    them); bounds before the validator, so the OpenAPI schema states them."""
    return Annotated[int, Field(**bounds), BeforeValidator(_integral_floats_as_ints)]


# At most 2**53 - 1: every JSON client reads that exactly (a bound of 2**63 - 1 reads as
# the float 2**63 in JSON Schema, which then admits 2**63).
InputIds = Annotated[list[json_int(ge=1, le=2**53 - 1)], Field(
    default_factory=list, max_length=1000,
    description="Ids of the artifacts this one was derived from (same execution)")]

# The body's fields are the domain's, with the same limits; ids and timestamps are the server's.
_BODY_FIELDS = ("type", "name", "symbol", "run_id", "experiment_id", "payload")
ArtifactIn = create_model(
    "ArtifactIn", __base__=_ArtifactInRules,
    __doc__="Body of `POST /api/artifacts`; the payload is validated for its type.",
    **{name: (field.annotation, field) for name, field in NewArtifact.model_fields.items()
       if name in _BODY_FIELDS},
    inputs=InputIds)


class LineageOut(BaseModel):
    status: LineageStatus
    mlflow_run_url: str | None
    repaired_at: datetime | None


class WideFields(BaseModel):
    """The previous system's flat fields, read from the payload (null where they do not apply)."""

    prompt: str | None = None
    response: str | None = None
    prompt_length: int | None = None
    response_length: int | None = None
    model_name: str | None = None
    image_path: str | None = Field(default=None, description="URL of the stored chart image.")
    chart_type: str | None = None
    chart_data: Any = None
    action: str | None = None
    confidence: float | None = None
    signal_data: Any = None
    metadata: Any = None


class ArtifactOut(WideFields):
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


class StoredArtifactOut(ArtifactOut):
    warnings: list[str] = Field(default_factory=list, description=(
        "What was stored differently from what was asked, e.g. a chart kept without its "
        "image because its image_path URL answered an HTML page."))


class ArtifactPage(BaseModel):
    items: list[ArtifactOut]
    next_cursor: str | None
    artifacts: list[ArtifactOut] = Field(description="The same page (the previous system's name).")
    total: int = Field(description="How many artifacts match the filters, on all pages.")
    grouped: dict[str, list[ArtifactOut]] | None = Field(
        default=None, description="With group_by=execution_id: the page by execution id "
                                  "(`ungrouped` for none), newest group first.")
    group_count: int | None = None


class RunOut(BaseModel):
    run_id: str
    experiment_id: str
    mlflow_run_url: str | None


class ExecutionOut(BaseModel):
    execution_id: str
    run: RunOut | None
    artifacts: list[ArtifactOut]


class HealthOut(BaseModel):
    status: str  # "ok", or "degraded" (with 503) when the database does not answer
    database: str
    version: str | None = None


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str | None
    type: str | None


class ErrorOut(BaseModel):
    """Every error answer: `detail` says in words what went wrong."""

    detail: str
    errors: list[ErrorItem] | None = None  # 422 only: one entry per invalid field


_ERROR_MEANINGS = {
    400: "Malformed request: a cursor this API did not hand out, or a bad Content-Length.",
    401: "Missing or wrong API token (writes, when PROVENANT_API_TOKEN is set).",
    404: "No such artifact, image, execution, market data window or MLflow run.",
    405: "Artifacts are audit evidence: they are never deleted.",
    409: "Conflicts with what is stored: an artifact with the same (workflow_id, "
         "execution_id, step_name, name) and other content, a different image or lineage, "
         "or a change meanwhile.",
    413: "The request body is larger than PROVENANT_MAX_BODY_BYTES.",
    422: "Invalid input; `detail` names each field and what is wrong with it.",
    502: "An image URL in the body could not be fetched from its server.",
    503: "The artifact database or the MLflow tracking server is unavailable; retry later.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error status codes (all `ErrorOut`)."""
    return {code: {"model": ErrorOut, "description": _ERROR_MEANINGS[code]} for code in codes}


def artifact_out(artifact: Artifact, status: LineageStatus, settings: Settings) -> ArtifactOut:
    """The CONTRACT's artifact JSON, with the deep link and the lineage status of this read."""
    image_url = f"/api/artifacts/{artifact.id}/image" if artifact.has_image else None
    return ArtifactOut(
        **artifact.model_dump(include=set(ArtifactOut.model_fields) - {"lineage", "image_url"}),
        **wide_fields(artifact.type, artifact.payload), image_path=image_url, image_url=image_url,
        lineage=LineageOut(status=status,
                           mlflow_run_url=mlflow_run_url(settings.mlflow_ui_url, artifact.lineage),
                           repaired_at=artifact.lineage_repaired_at))

