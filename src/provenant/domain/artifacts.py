"""Artifacts and their typed payloads: plain models, no I/O."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from provenant.domain.lineage import Lineage, LineageStatus


class ArtifactType(StrEnum):
    chart = "chart"
    llm = "llm"
    signal = "signal"
    order = "order"
    trade = "trade"
    portfolio = "portfolio"
    market_data = "market_data"  # the previous system's own type: kept as it was


class Payload(BaseModel):
    """Base of every payload: the CONTRACT's keys are fixed, others may be added."""

    model_config = ConfigDict(extra="allow")


class ChartPayload(Payload):
    chart_type: str = Field(min_length=1, max_length=32)
    indicators: dict[str, Any] = Field(default_factory=dict)


class LlmPayload(Payload):
    prompt: str
    response: str
    model_name: str = Field(min_length=1, max_length=200)
    provider: str | None = None
    latency_ms: float | None = Field(default=None, ge=0)
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)


class SignalPayload(Payload):
    action: Literal["BUY", "SELL", "HOLD"]
    confidence: float = Field(ge=0, le=1)


class OrderPayload(Payload):
    side: Literal["BUY", "SELL"]
    quantity: float = Field(gt=0)
    order_type: str = Field(min_length=1, max_length=32)


class TradePayload(Payload):
    side: Literal["BUY", "SELL"] | None = None
    quantity: float | None = None
    price: float | None = None


class PortfolioPayload(Payload):
    positions: list[dict[str, Any]] | dict[str, Any] = Field(default_factory=list)


class MarketDataPayload(Payload):
    """The OHLCV window a chart was drawn from (the workflow stores `timeframe`, `provider`,
    `first_bar`, `last_bar`, `bar_count` and `bars`); from the previous system, whatever it
    stored about a market data fetch. No key is required: imported rows keep their shape."""


PAYLOAD_MODELS: dict[ArtifactType, type[Payload]] = {
    ArtifactType.chart: ChartPayload,
    ArtifactType.llm: LlmPayload,
    ArtifactType.signal: SignalPayload,
    ArtifactType.order: OrderPayload,
    ArtifactType.trade: TradePayload,
    ArtifactType.portfolio: PortfolioPayload,
    ArtifactType.market_data: MarketDataPayload,
}


def validate_payload(artifact_type: ArtifactType | str, payload: dict[str, Any],
                     strict: bool = False) -> dict[str, Any]:
    """Validate a payload for its type; raise ``ValidationError`` with the reasons.

    `strict` takes values only as their own types (no "0.5" for a number).
    """
    model = PAYLOAD_MODELS[ArtifactType(artifact_type)]
    return model.model_validate(payload, strict=strict).model_dump(mode="json",
                                                                   exclude_none=True)


class WorkflowContext(BaseModel):
    """Where in a workflow an artifact was produced."""

    workflow_id: str | None = Field(default=None, max_length=250)
    execution_id: str | None = Field(default=None, max_length=250)
    step_name: str | None = Field(default=None, max_length=250)
    dag_id: str | None = Field(default=None, max_length=250)
    task_id: str | None = Field(default=None, max_length=250)


class NewArtifact(WorkflowContext):
    """An artifact about to be stored."""

    type: ArtifactType
    name: str = Field(min_length=1, max_length=500)
    symbol: str | None = Field(default=None, max_length=32)
    run_id: str | None = Field(default=None, max_length=64)
    experiment_id: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict)
    id: int | None = Field(default=None, ge=1)  # only the legacy import keeps ids
    created_at: datetime | None = None
    updated_at: datetime | None = None  # only the legacy import keeps the old stamp

    @model_validator(mode="after")
    def _typed_payload(self) -> "NewArtifact":
        self.payload = validate_payload(self.type, self.payload)
        if (self.run_id is None) != (self.experiment_id is None):
            raise ValueError("run_id and experiment_id must be given together")
        return self


class Artifact(WorkflowContext):
    """A stored artifact, as the API and UI see it."""

    id: int
    type: ArtifactType
    name: str
    symbol: str | None
    run_id: str | None
    experiment_id: str | None
    created_at: datetime
    updated_at: datetime | None = None
    payload: dict[str, Any]
    has_image: bool = False
    image_content_type: str | None = None
    image_sha256: str | None = None
    lineage_repaired_at: datetime | None = None
    content_sha256: str | None = None
    imported: bool = False  # a row of the previous system
    sealed_by_run: str | None = None  # the run whose manifest records its hash: final

    @property
    def lineage(self) -> Lineage | None:
        if self.run_id and self.experiment_id:
            return Lineage(run_id=self.run_id, experiment_id=self.experiment_id)
        return None

    @property
    def lineage_status(self) -> LineageStatus:
        if self.lineage is None:
            return LineageStatus.pending
        return LineageStatus.repaired if self.lineage_repaired_at else LineageStatus.persisted


__all__ = [
    "Artifact", "ArtifactType", "NewArtifact", "PAYLOAD_MODELS", "Payload", "ValidationError",
    "WorkflowContext", "validate_payload",
]
