"""What an analyst gets (indicators and chart images) and what it returns (a signal + exchange)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from provenant.domain.errors import describe_errors
from provenant.domain.market import IndicatorSnapshot
from provenant.domain.signals import Signal

SYSTEM_PROMPT = (
    "You are a disciplined technical analyst. Study the daily and weekly candlestick charts "
    "(SMA 20/50/200 and Bollinger 20/2 overlays, volume, RSI 14) and the indicator values, "
    "then decide BUY, SELL or HOLD for the next few weeks. Answer with ONE JSON object and "
    "nothing else.")

SIGNAL_SCHEMA = {
    "action": "BUY | SELL | HOLD",
    "confidence": "number 0..1",
    "score": "number -1 (strongly bearish) .. 1 (strongly bullish)",
    "entry_price": "number (required for BUY/SELL)",
    "stop_loss": "number: below entry for BUY, above entry for SELL",
    "take_profit": "number: above entry for BUY, below entry for SELL",
    "risk_reward": "number: |take_profit - entry| / |entry - stop_loss|",
    "rationale": "string: two or three sentences",
    "key_factors": ["short strings"],
    "timeframes": {"daily": "bullish | bearish | neutral", "weekly": "bullish | bearish | neutral"},
}


class AnalystError(RuntimeError):
    """The analyst could not produce a valid signal; `exchange` keeps what was said, if any."""

    def __init__(self, message: str, exchange: dict | None = None) -> None:
        super().__init__(message)
        self.exchange = exchange


class InvalidAnswer(ValueError):
    """An answer that is not a JSON signal: why, for the retry prompt and the error."""


@dataclass(frozen=True)
class ChartImage:
    chart_type: str
    png: bytes
    artifact_id: int | None = None


@dataclass(frozen=True)
class AnalystRequest:
    """Everything the analyst looks at for one symbol."""

    symbol: str
    daily: IndicatorSnapshot
    weekly: IndicatorSnapshot
    charts: list[ChartImage] = field(default_factory=list)


@dataclass(frozen=True)
class Analysis:
    """The analyst's signal and the exchange that produced it (kept as the LLM artifact)."""

    signal: Signal
    prompt: str
    response: str
    model_name: str
    provider: str
    latency_ms: float
    attempts: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    rejected: list[dict] = field(default_factory=list)  # invalid answers before this one


class Analyst(Protocol):
    """Turns a symbol's indicators and charts into a validated signal proposal."""

    def analyze(self, request: AnalystRequest) -> Analysis:
        """The analysis; AnalystError (with the exchange, when there was one) otherwise."""



def user_prompt(request: AnalystRequest) -> str:
    """The text part of the request: symbol, indicator values and the answer's schema."""
    lines = [f"Symbol: {request.symbol}"]
    for snap in (request.daily, request.weekly):
        values = ", ".join(f"{k}={v:.4g}" for k, v in snap.values().items())
        lines.append(f"{snap.timeframe.capitalize()} as of {snap.as_of}: {values}")
    charts = ", ".join(c.chart_type for c in request.charts) or "none"
    lines += [f"Charts attached: {charts}.",
              "Reply with a JSON object with exactly these keys:",
              json.dumps(SIGNAL_SCHEMA, indent=2)]
    return "\n".join(lines)


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_signal(text: str | None) -> Signal:
    """A Signal from an answer's text (code fences allowed); InvalidAnswer says why not."""
    if not text or not text.strip():
        raise InvalidAnswer("the answer was empty")
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"the answer is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(data, dict):
        raise InvalidAnswer("the answer is JSON but not an object")
    try:
        return Signal.model_validate(data)
    except ValidationError as exc:
        reasons = describe_errors(exc.errors(), "signal")
        raise InvalidAnswer(f"the JSON is not a valid signal ({reasons})") from None
