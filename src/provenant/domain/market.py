"""Market data: daily bars, their validation and the latest indicator values. No I/O."""
from __future__ import annotations

import math
import re
from datetime import date

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OHLC = ("open", "high", "low", "close")
COLUMNS = (*OHLC, "volume")
MIN_BARS = 200  # the longest indicator (SMA 200) needs this many closes
MAX_CALENDAR_GAP_DAYS = 10  # exchanges never close this long; a longer hole is missing data
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,14}$")


class InvalidBars(ValueError):
    """Market data that cannot be analysed: too short, holes, disorder or nonsense prices."""


def normalize_symbol(symbol: str) -> str:
    """Upper-case a ticker and check it looks like one (letters, digits, '.', '-')."""
    cleaned = (symbol or "").strip().upper()
    if not _SYMBOL.match(cleaned):
        raise ValueError(f"invalid symbol {symbol!r}: use letters, digits, '.' or '-' (max 15)")
    return cleaned


def validate_bars(frame: pd.DataFrame, symbol: str, min_bars: int = MIN_BARS) -> pd.DataFrame:
    """Check daily bars (DatetimeIndex, columns open/high/low/close/volume); raise InvalidBars."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidBars(f"{symbol}: market data lacks column(s) {', '.join(missing)}")
    if len(frame) < min_bars:
        raise InvalidBars(f"{symbol}: {len(frame)} daily bars, need at least {min_bars} "
                          f"(SMA 200 needs 200 closes)")
    index = pd.DatetimeIndex(frame.index)
    if index.hasnans:
        raise InvalidBars(f"{symbol}: {int(index.isna().sum())} bar(s) without a date")
    duplicated = index[index.duplicated()]
    if len(duplicated):
        raise InvalidBars(f"{symbol}: duplicate date(s) {_dates(duplicated)}")
    backwards = index[1:][index[1:] < index[:-1]]
    if len(backwards):
        raise InvalidBars(f"{symbol}: dates are not in ascending order (at {_dates(backwards)})")
    gaps = index.to_series().diff().dt.days
    holes = gaps[gaps > MAX_CALENDAR_GAP_DAYS]
    if len(holes):
        raise InvalidBars(f"{symbol}: {len(holes)} gap(s) longer than {MAX_CALENDAR_GAP_DAYS} "
                          f"days between bars, ending {_dates(holes.index)}")
    prices = frame[list(OHLC)].apply(pd.to_numeric, errors="coerce")
    blank = prices.isna().any(axis=1)
    if blank.any():
        raise InvalidBars(f"{symbol}: {int(blank.sum())} bar(s) with missing OHLC values "
                          f"on {_dates(frame.index[blank])}")
    non_positive = (prices <= 0).any(axis=1)
    if non_positive.any():
        raise InvalidBars(f"{symbol}: non-positive prices on {_dates(frame.index[non_positive])}")
    low_above = prices["low"] > prices[["open", "close", "high"]].min(axis=1)
    high_below = prices["high"] < prices[["open", "close", "low"]].max(axis=1)
    inconsistent = low_above | high_below
    if inconsistent.any():
        raise InvalidBars(f"{symbol}: high/low do not bracket open/close on "
                          f"{_dates(frame.index[inconsistent])}")
    return frame


def _dates(index, shown: int = 3) -> str:
    values = [pd.Timestamp(v).date().isoformat() for v in list(index)[:shown]]
    more = len(index) - shown
    return ", ".join(values) + (f" (+{more} more)" if more > 0 else "")


class Bar(BaseModel):
    """One daily OHLCV bar."""

    model_config = ConfigDict(frozen=True)

    date: date
    open: float
    high: float
    low: float
    close: float
    volume: float = Field(ge=0)


class BarSeries(BaseModel):
    """A symbol's validated daily bars, JSON-friendly so it can travel between steps."""

    symbol: str
    provider: str
    bars: list[Bar]

    @model_validator(mode="after")
    def _valid(self) -> "BarSeries":
        validate_bars(self.to_frame(), self.symbol)
        return self

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, symbol: str, provider: str) -> "BarSeries":
        """Validate a frame of bars (DatetimeIndex) and wrap it."""
        validate_bars(frame, symbol)
        records = [Bar(date=ts.date(), **{c: float(row[c]) for c in COLUMNS})
                   for ts, row in frame[list(COLUMNS)].iterrows()]
        return cls(symbol=symbol, provider=provider, bars=records)

    def to_frame(self) -> pd.DataFrame:
        """The bars as a frame indexed by date, columns open/high/low/close/volume."""
        frame = pd.DataFrame([b.model_dump() for b in self.bars], columns=["date", *COLUMNS])
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="date")
        return frame

    def describe(self) -> str:
        """`N daily bars FIRST..LAST from PROVIDER`, for progress lines."""
        return (f"{len(self.bars)} daily bars {self.first_date}..{self.last_date} "
                f"from {self.provider}")

    @property
    def first_date(self) -> date:
        return self.bars[0].date

    @property
    def last_date(self) -> date:
        return self.bars[-1].date


def window_payload(bars: pd.DataFrame, timeframe: str, provider: str) -> dict:
    """A market_data artifact's payload: the bars a chart was drawn from and their extent.

    `bars` is a frame indexed by date with the COLUMNS (daily bars, or weekly resampled).
    """
    records = [{"date": ts.date().isoformat(), **{c: float(row[c]) for c in COLUMNS}}
               for ts, row in bars[list(COLUMNS)].iterrows()]
    return {"timeframe": timeframe, "provider": provider, "first_bar": records[0]["date"],
            "last_bar": records[-1]["date"], "bar_count": len(records), "bars": records}


class IndicatorSnapshot(BaseModel):
    """The latest value of each indicator (None when the series is too short for it)."""

    timeframe: str
    as_of: date
    close: float
    sma_20: float | None = None
    sma_50: float | None = None
    sma_200: float | None = None
    rsi_14: float | None = None
    macd: float | None = None
    macd_signal: float | None = None
    macd_hist: float | None = None
    bb_upper: float | None = None
    bb_middle: float | None = None
    bb_lower: float | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _nan_is_none(cls, value):
        if isinstance(value, float) and math.isnan(value):
            return None
        return value

    def values(self) -> dict[str, float]:
        """The numeric indicators that have a value (for metrics and prompts)."""
        return {k: v for k, v in self.model_dump(exclude={"timeframe", "as_of"}).items()
                if v is not None}
