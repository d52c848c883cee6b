"""The previous system's request bodies: its flat POST and its PATCH, as today's artifacts."""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from provenant.adapters.blobs import looks_like_html
from provenant.adapters.image_fetch import (
    ImageFetchFailed, ImageFetchRefused, fetch_image, is_url)
from provenant.domain.artifacts import ArtifactType, WorkflowContext, validate_payload
from provenant.domain.errors import Refused, describe_error
from provenant.domain.legacy import LEGACY_TYPES, SPLIT_SIGNALS, WIDE_FIELDS, typed_payload
from provenant.domain.lineage import RUN_ID_PATTERN
from provenant.http.api.schemas import ArtifactIn, InputIds, _ArtifactInRules, json_int
from provenant.service.images import html_chart_warning


class _Wide(BaseModel):
    """The flat fields the previous system's DAG client sends."""

    prompt: str | None = None
    response: str | None = None
    prompt_length: json_int(ge=0) | None = None
    response_length: json_int(ge=0) | None = None
    model_name: str | None = Field(default=None, min_length=1, max_length=200)
    chart_type: str | None = Field(default=None, min_length=1, max_length=32)
    chart_data: dict[str, Any] | list[Any] | None = None
    action: str | None = Field(default=None, max_length=20)
    confidence: float | None = Field(default=None, ge=0, le=1)
    signal_data: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = Field(default=None, description=(
        "What the previous system called metadata (kept as the payload's `metadata`)."))


_SIGNAL_ACTION = "^\\s*([Bb][Uu][Yy]|[Ss][Ee][Ll][Ll]|[Hh][Oo][Ll][Dd])\\s*$"


def _document_run_id(schema: dict[str, Any]) -> None:
    """A run id is 32 hex digits (the validator's rule, shown to clients)."""
    run_id = schema["properties"]["run_id"]
    for branch in run_id.get("anyOf", [run_id]):
        if branch.get("type") == "string":
            branch["pattern"] = RUN_ID_PATTERN


def _document_flat_rules(schema: dict[str, Any]) -> None:
    """Say in OpenAPI what each flat type needs (a signal marked order/trade/portfolio is
    checked as that type, from aliases a schema cannot list)."""
    _document_run_id(schema)
    schema["anyOf"] = [{"properties": {"experiment_id": {"type": "null"}}},
                       {"required": ["run_id"], "properties": {"run_id": {"type": "string"}}}]
    marked = {"required": ["signal_data"], "properties": {"signal_data": {
        "type": "object", "required": ["artifact_type"],
        "properties": {"artifact_type": {"enum": list(SPLIT_SIGNALS)}}}}}
    plain_signal = {"required": ["action", "confidence"], "properties": {
        "action": {"type": "string", "pattern": _SIGNAL_ACTION}, "confidence": {"type": "number"}}}
    text = {"type": "string"}  # required and not null
    schema["oneOf"] = [
        {"properties": {"type": {"const": "llm"}, "prompt": text, "response": text,
                        "model_name": text}, "required": ["prompt", "response", "model_name"]},
        {"properties": {"type": {"const": "chart"}, "chart_type": text},
         "required": ["chart_type"]},
        {"properties": {"type": {"const": "market_data"}}},
        {"properties": {"type": {"const": "signal"}}, "anyOf": [marked, plain_signal]}]


class FlatArtifactIn(_ArtifactInRules, _Wide):
    """The previous system's flat body; signal rows whose `signal_data.artifact_type` is
    order, trade or portfolio become those types."""

    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra=_document_flat_rules)
    type: Literal[LEGACY_TYPES]  # type: ignore[valid-type]
    name: str = Field(min_length=1, max_length=500)
    symbol: str | None = Field(default=None, max_length=32)
    run_id: str | None = Field(default=None, max_length=64)
    experiment_id: str | None = Field(default=None, max_length=64)
    image_path: str | None = Field(default=None, max_length=2000, description=(
        "An http(s) URL under PROVENANT_IMAGE_FETCH_PREFIXES is fetched and stored as the "
        "chart's image (an HTML page there is not: the artifact is stored without an image "
        "and the response's `warnings` says so); a file path is only recorded. Either way "
        "the value is kept as the payload's `legacy_image_path`."))
    inputs: InputIds

    def typed(self) -> tuple[ArtifactType, dict[str, Any]]:
        """Today's type and payload for this body; Refused with the reasons if invalid."""
        kind, payload = typed_payload(self.type, self.model_dump(include=set(WIDE_FIELDS)))
        try:
            payload = validate_payload(kind, payload)
        except ValidationError as exc:
            raise Refused(f"not a valid {kind} artifact: {describe_error(exc)}") from None
        if self.image_path:
            payload["legacy_image_path"] = self.image_path
        return kind, payload


class ArtifactPatch(_ArtifactInRules, _Wide):
    """`PATCH /api/artifacts/{id}`: fields merged into the payload (`metadata` merges by key),
    and lineage attached once: `run_id` of a run MLflow knows, `experiment_id` its experiment."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_document_run_id)
    run_id: str | None = Field(default=None, max_length=64)
    experiment_id: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any] | None = Field(default=None,
                                           description="Keys merged into the payload.")

    def updates(self) -> dict[str, Any]:
        """The payload keys to merge, from the flat fields and `payload` given."""
        given = self.model_dump(include=set(WIDE_FIELDS), exclude_unset=True)
        return {**given, **(self.payload or {})}

    def _run_with_experiment(self) -> "ArtifactPatch":
        return self  # an experiment alone may confirm lineage already stored


def _body_kind(body: Any) -> str:
    """Flat when it carries one of the previous system's fields and no `payload`."""
    if isinstance(body, dict):
        flat = "payload" not in body and bool(body.keys() & {*WIDE_FIELDS, "image_path"})
        return "flat" if flat else "native"
    return "flat" if isinstance(body, FlatArtifactIn) else "native"


async def artifact_body(request: Request) -> ArtifactIn | FlatArtifactIn:
    """Today's body or the flat one, validated as the one it is (errors name its fields)."""
    try:
        data = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than Python's
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",),
                                       "msg": f"JSON decode error: {reason}"}]) from None
    model = FlatArtifactIn if _body_kind(data) == "flat" else ArtifactIn
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's schema to inline in OpenAPI; what it refers to (ArtifactType) is a component
    there already, through the artifact the responses carry."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


# The request body in OpenAPI: either shape (parsed by `artifact_body`).
ARTIFACT_BODY_OPENAPI = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"anyOf": [_inline_schema(ArtifactIn), _inline_schema(FlatArtifactIn)]}}}}}
ArtifactBody = Annotated[ArtifactIn | FlatArtifactIn, Depends(artifact_body)]


def fetched_image(image_path: str | None,
                  prefixes: tuple[str, ...]) -> tuple[bytes | None, list[str]]:
    """The image a flat body's URL names, fetched only under the allowed prefixes, and the
    warnings to answer with: an HTML page there (the previous system's plotly fallback) is
    not stored, but the artifact is, as the importer keeps such a chart."""
    if not image_path or not is_url(image_path):
        return None, []
    try:
        data = fetch_image(image_path, prefixes)
    except ImageFetchRefused as exc:
        raise Refused(f"image_path not fetched: {exc}") from None
    except ImageFetchFailed as exc:
        raise ImageUnreachable(f"image_path could not be fetched: {exc}") from None
    if looks_like_html(data):
        return None, [html_chart_warning(image_path)]
    return data, []


class ImageUnreachable(RuntimeError):
    """The image server named in a body did not answer with the image (HTTP 502)."""
