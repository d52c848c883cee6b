"""Values as words a person reads: never "None", "null", "NaN" or "undefined"."""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MISSING = "—"  # an em dash: shown wherever a value is absent or not a number


def show(value: Any) -> str:
    """Any payload value as display text; absent and non-finite values become a dash."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return show_number(value)
    if isinstance(value, datetime):
        return show_time(value)
    if isinstance(value, Mapping):
        parts = [f"{label(k)}: {show(v)}" for k, v in value.items()]
        return "; ".join(parts) or MISSING
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value) or MISSING
    return str(value)


def show_number(value: float, digits: int = 2) -> str:
    """A float with `digits` decimals (small ones keep 4 significant digits)."""
    if not math.isfinite(value):
        return MISSING
    if value != 0 and abs(value) < 1:
        return f"{value:.4g}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def number_or_none(value: Any) -> float | None:
    """A finite float from a payload value, or None (text such as "12.5" counts)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def show_percent(value: Any) -> str:
    """A 0..1 fraction as a percentage."""
    number = number_or_none(value)
    return MISSING if number is None else f"{number * 100:.0f}%"


def show_latency(value: Any) -> str:
    """Milliseconds as ms below a second, seconds above."""
    number = number_or_none(value)
    if number is None:
        return MISSING
    return f"{number:,.0f} ms" if number < 1000 else f"{number / 1000:,.2f} s"


def show_time(value: datetime | None) -> str:
    """A timestamp in UTC, to the second."""
    if value is None:
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_ACRONYMS = {"bb", "ema", "id", "llm", "macd", "rsi", "sma", "atr", "ohlcv", "url"}


def label(key: Any) -> str:
    """A payload key as a label: `risk_reward` -> `Risk reward`, `sma_20` -> `SMA 20`."""
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in str(key).split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else MISSING
