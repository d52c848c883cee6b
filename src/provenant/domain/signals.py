"""Trading signals and orders: plain typed models with their consistency rules. No I/O."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal["BUY", "SELL", "HOLD"]
Side = Literal["BUY", "SELL"]
Trend = Literal["bullish", "bearish", "neutral"]


class Signal(BaseModel):
    """A trading decision with its price levels, validated so the levels make sense.

    A BUY needs stop < entry < target and a SELL target < entry < stop; a HOLD may
    omit the levels. ``risk_reward`` (reward per unit of risk) is computed when absent
    and must agree with the levels when given.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    action: Action
    confidence: float = Field(ge=0, le=1)
    score: float = Field(ge=-1, le=1, description="-1 strongly bearish .. +1 strongly bullish")
    entry_price: float | None = Field(default=None, gt=0)
    stop_loss: float | None = Field(default=None, gt=0)
    take_profit: float | None = Field(default=None, gt=0)
    risk_reward: float | None = Field(default=None, gt=0)
    rationale: str = Field(min_length=1, max_length=4000)
    key_factors: list[str] = Field(default_factory=list, max_length=20)
    timeframes: dict[str, Trend] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _levels_fit_the_action(self) -> "Signal":
        levels = (self.entry_price, self.stop_loss, self.take_profit)
        if self.action == "HOLD" and None in levels:
            return self
        if None in levels:
            raise ValueError(f"a {self.action} signal needs entry_price, stop_loss and take_profit")
        entry, stop, target = levels
        if self.action == "BUY" and not stop < entry < target:
            raise ValueError(f"a BUY needs stop_loss < entry_price < take_profit "
                             f"(got {stop} / {entry} / {target})")
        if self.action == "SELL" and not target < entry < stop:
            raise ValueError(f"a SELL needs take_profit < entry_price < stop_loss "
                             f"(got {target} / {entry} / {stop})")
        if self.action == "HOLD":
            return self
        ratio = round(abs(target - entry) / abs(entry - stop), 4)
        if self.risk_reward is None:
            self.risk_reward = ratio
        elif abs(self.risk_reward - ratio) > max(0.05, 0.05 * ratio):
            raise ValueError(f"risk_reward {self.risk_reward} does not match the levels ({ratio})")
        return self


class Order(BaseModel):
    """An order to send (or record) for a BUY or SELL signal: a limit entry with a bracket."""

    symbol: str
    side: Side
    quantity: int = Field(ge=1)
    order_type: Literal["LMT", "MKT"] = "LMT"
    limit_price: float | None = Field(default=None, gt=0)
    stop_loss: float | None = Field(default=None, gt=0)
    take_profit: float | None = Field(default=None, gt=0)

    @classmethod
    def for_signal(cls, symbol: str, signal: Signal, quantity: int) -> "Order":
        """The bracket order that carries out a BUY or SELL signal."""
        if signal.action == "HOLD":
            raise ValueError("a HOLD signal has no order")
        return cls(symbol=symbol, side=signal.action, quantity=quantity,
                   limit_price=signal.entry_price, stop_loss=signal.stop_loss,
                   take_profit=signal.take_profit)
