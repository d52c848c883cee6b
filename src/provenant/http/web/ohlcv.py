"""A market_data artifact's bars as the drawer's OHLCV table (the page's script sorts and
pages it; without the script every row is shown)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provenant.domain.legacy import market_window
from provenant.http.web.format import number_or_none, show

COLUMNS = (("date", "Date"), ("open", "Open"), ("high", "High"), ("low", "Low"),
           ("close", "Close"), ("volume", "Volume"))
PAGE_SIZE = 25


@dataclass(frozen=True)
class Cell:
    text: str
    key: str  # what the column sorts by: the number, or the text; empty when absent


@dataclass(frozen=True)
class OhlcvTable:
    caption: str
    columns: tuple[tuple[str, str], ...]  # (key, heading)
    rows: list[list[Cell]]
    page_size: int = PAGE_SIZE


def ohlcv_of(payload: dict[str, Any]) -> tuple[OhlcvTable | None, dict[str, Any]]:
    """The bars found in a payload as a table, and the payload without them (shown elsewhere)."""
    found = market_window(payload)
    if found is None:
        return None, payload
    place, bars = found
    rows = [[_cell(name, bar.get(name)) for name, _ in COLUMNS] for bar in bars]
    caption = f"OHLCV bars ({len(rows):,})"
    return OhlcvTable(caption, COLUMNS, rows), _without(payload, place.split("."))


def _cell(name: str, value: Any) -> Cell:
    if name == "date":
        return Cell(show(value), "" if value is None else str(value))
    number = number_or_none(value)
    if number is None:
        return Cell(show(value), "")
    return Cell(f"{number:,.0f}" if name == "volume" else show_price(number), repr(number))


def show_price(value: float) -> str:
    """Two decimals, so a column of prices lines up (sub-unit prices keep 4 significant)."""
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"


def _without(payload: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """A copy of `payload` without the key at `path` (parents left empty are dropped too)."""
    head, *rest = path
    if not rest:
        return {k: v for k, v in payload.items() if k != head}
    inner = _without(payload[head], rest)
    return {k: v for k, v in payload.items() if k != head} | ({head: inner} if inner else {})
