"""Typed parameters, inputs and outputs of the ibkr_trading_signal_workflow's steps."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from provenant.config import Settings
from provenant.domain.market import MIN_BARS, BarSeries, IndicatorSnapshot
from provenant.domain.signals import Signal
from provenant.adapters.market_data import DEFAULT_LOOKBACK
from provenant.workflows.engine.steps import StepInputs, StepOutputs


class RunParams(BaseModel):
    """Per-execution choices; each defaults to its PROVENANT_* setting."""

    market_data_provider: Literal["bundled", "csv", "ibkr"]
    market_data_csv: str | None = None
    analyst: Literal["rules", "openai"]
    broker: Literal["paper", "ibkr"]
    order_quantity: int = Field(ge=1)
    lookback_bars: int = Field(default=DEFAULT_LOOKBACK, ge=MIN_BARS, le=10_000)


def resolve_params(settings: Settings, overrides: dict[str, Any]) -> RunParams:
    """Settings, overridden by the non-empty values given for this run."""
    defaults = {"market_data_provider": settings.market_data_provider,
                "market_data_csv": str(settings.market_data_csv or "") or None,
                "analyst": settings.analyst, "broker": settings.broker,
                "order_quantity": settings.order_quantity}
    unknown = set(overrides) - set(RunParams.model_fields)
    if unknown:
        raise ValueError(f"unknown workflow parameter(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(RunParams.model_fields)}")
    return RunParams(**{**defaults, **{k: v for k, v in overrides.items() if v is not None}})


class SymbolInputs(StepInputs):
    symbol: str
    params: RunParams


class MarketData(StepOutputs):
    market: BarSeries
    daily_indicators: IndicatorSnapshot
    weekly_indicators: IndicatorSnapshot

    def summary(self) -> str:
        return self.market.describe()


class ChartInputs(StepInputs):
    symbol: str
    market: BarSeries


class ChartRef(BaseModel):
    artifact_id: int
    chart_type: str
    bars_shown: int
    # The market_data artifact the chart was drawn from (None in a state from before it was
    # stored: an execution started by an older version keeps running).
    market_data_artifact_id: int | None = None


class DailyChart(StepOutputs):
    daily_chart: ChartRef

    def summary(self) -> str:
        return f"chart artifact {self.daily_chart.artifact_id}"


class WeeklyChart(StepOutputs):
    weekly_chart: ChartRef

    def summary(self) -> str:
        return f"chart artifact {self.weekly_chart.artifact_id}"


class AnalysisInputs(SymbolInputs):
    daily_indicators: IndicatorSnapshot
    weekly_indicators: IndicatorSnapshot
    daily_chart: ChartRef
    weekly_chart: ChartRef


class AnalysisRef(BaseModel):
    llm_artifact_id: int
    model_name: str
    provider: str
    attempts: int
    proposal: Signal


class AnalysisOutputs(StepOutputs):
    analysis: AnalysisRef

    def summary(self) -> str:
        a = self.analysis
        return f"{a.model_name} proposes {a.proposal.action} (llm artifact {a.llm_artifact_id})"


class SignalInputs(StepInputs):
    symbol: str
    analysis: AnalysisRef


class SignalOutputs(StepOutputs):
    signal: Signal
    signal_artifact_id: int

    def summary(self) -> str:
        return (f"{self.signal.action} confidence {self.signal.confidence:.2f} "
                f"(signal artifact {self.signal_artifact_id})")


class OrderInputs(SymbolInputs):
    signal: Signal
    # The order's input in the decision chain (absent when a caller runs the step alone).
    signal_artifact_id: int | None = None


class OrderOutcome(BaseModel):
    status: str  # "recorded" (paper), the broker's status, or "skipped" (HOLD: no order)
    broker: str
    artifact_id: int | None = None
    reason: str | None = None


class OrderOutputs(StepOutputs):
    order: OrderOutcome

    def summary(self) -> str:
        if self.order.artifact_id is None:
            return f"no order: {self.order.reason}"
        return f"{self.order.broker} order {self.order.status} (order artifact {self.order.artifact_id})"


class LogInputs(SymbolInputs):
    market: BarSeries
    daily_indicators: IndicatorSnapshot
    weekly_indicators: IndicatorSnapshot
    daily_chart: ChartRef
    weekly_chart: ChartRef
    analysis: AnalysisRef
    signal: Signal
    signal_artifact_id: int
    order: OrderOutcome
    steps: list[dict[str, Any]] = []


class LogOutputs(StepOutputs):
    logged_run_id: str
    logged_artifact_ids: list[int]

    def summary(self) -> str:
        return f"run {self.logged_run_id}: params, metrics, charts"
