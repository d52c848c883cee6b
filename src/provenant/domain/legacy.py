"""The previous system's wide artifact (its flat API body, its table's columns) as one of
today's typed artifacts and back: one mapping for the HTTP compatibility layer and the import.
No I/O."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from provenant.domain.artifacts import ArtifactType

# Orders, trades and portfolio snapshots were stored as `signal` with this marker.
SPLIT_SIGNALS = ("order", "trade", "portfolio")
LEGACY_TYPES = ("llm", "chart", "signal", "market_data")
# The wide columns that become payload keys, under their own names (its table called
# `metadata` `artifact_metadata`; its API said `metadata`).
WIDE_FIELDS = ("prompt", "response", "prompt_length", "response_length", "model_name",
               "chart_type", "chart_data", "action", "confidence", "signal_data", "metadata")
# IB reports fills as BOT/SLD.
_IB_SIDES = {"BOT": "BUY", "SLD": "SELL"}
_QUANTITY_KEYS = ("quantity", "total_quantity", "totalQuantity", "filled_quantity", "shares",
                  "qty")


class LegacyShapeError(ValueError):
    """A wide artifact that cannot become a typed one (the reason is the message)."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """JSON-native values: a Decimal becomes an int or a float, recursively."""
    if type(value) in _SCALARS:  # most values: answered before any isinstance
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def typed_payload(kind: Any, wide: dict[str, Any]) -> tuple[ArtifactType, dict[str, Any]]:
    """The type and payload of a wide artifact; every filled wide field is kept.

    A field's nested values come from JSON text (an API body, a JSON column), so only a
    field itself can be a Decimal (a NUMERIC column): the import's rows are not walked.
    """
    fields = {k: plain(v) if type(v) is Decimal else v
              for k in WIDE_FIELDS if (v := wide.get(k)) is not None}
    if kind not in LEGACY_TYPES:
        raise LegacyShapeError(f"unknown legacy type {kind!r} (expected "
                               f"{', '.join(LEGACY_TYPES)})")
    if kind == "signal":
        data = fields.get("signal_data")
        if isinstance(data, dict) and data.get("artifact_type") in SPLIT_SIGNALS:
            return ArtifactType(data["artifact_type"]), _split_signal(fields, data)
        if isinstance(fields.get("action"), str):
            fields["action"] = fields["action"].strip().upper()
    return ArtifactType(kind), fields


def _split_signal(fields: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """An order, trade or portfolio snapshot, its signal_data spread into the payload."""
    subtype = data["artifact_type"]
    payload = {**{k: v for k, v in fields.items() if k != "signal_data"},
               **{k: v for k, v in data.items() if k != "artifact_type"}}
    if subtype == "portfolio":
        payload.setdefault("positions", [])
        return payload
    reported = _first(data, "side", "action") or fields.get("action")
    side = _side(reported)
    if side is not None:
        payload["side"] = side
        if side != reported:
            payload["legacy_side"] = reported  # what the broker or old DAG said
    quantity = _first(data, *_QUANTITY_KEYS)
    if quantity is not None:
        payload["quantity"] = quantity
    if subtype == "order":
        order_type = _first(data, "order_type", "orderType")
        if order_type is not None:
            payload["order_type"] = order_type
    else:
        price = _first(data, "price", "fill_price", "avg_fill_price", "average_price",
                       "avg_price")
        if price is not None:
            payload["price"] = price
    return payload


def _side(value: Any) -> Any:
    """BUY/SELL from BOT/SLD, `OrderSide.BUY` (an enum's str) or any case."""
    if not isinstance(value, str):
        return value
    word = value.strip().rsplit(".", 1)[-1].upper()
    return _IB_SIDES.get(word, word)


def _first(data: dict[str, Any], *keys: str) -> Any:
    return next((data[k] for k in keys if data.get(k) is not None), None)


def wide_fields(artifact_type: ArtifactType, payload: dict[str, Any]) -> dict[str, Any]:
    """The wide fields the previous system's pages read, from a typed payload (None if absent)."""
    prompt, response = payload.get("prompt"), payload.get("response")
    signal_data = payload.get("signal_data")
    if artifact_type.value in SPLIT_SIGNALS:
        signal_data = {"artifact_type": artifact_type.value,
                       **{k: v for k, v in payload.items() if k not in WIDE_FIELDS}}
    return {
        "prompt": prompt, "response": response,
        "prompt_length": payload.get("prompt_length", _length(prompt)),
        "response_length": payload.get("response_length", _length(response)),
        "model_name": payload.get("model_name"), "chart_type": payload.get("chart_type"),
        "chart_data": payload.get("chart_data"),
        "action": payload.get("action", payload.get("legacy_side", payload.get("side"))),
        "confidence": payload.get("confidence"), "signal_data": signal_data,
        "metadata": payload.get("metadata"),
    }


def _length(text: Any) -> int | None:
    return len(text) if isinstance(text, str) else None


def merged_payload(payload: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """A payload with wide-field and payload updates applied; `metadata` dicts merge by key."""
    merged = dict(payload)
    for key, value in plain(updates).items():
        if key == "metadata" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


# Where an OHLCV window is kept: the old DAG's market data snapshot first.
_BAR_PLACES = (("metadata", "market_data_snapshot", "bars"), ("market_data_snapshot", "bars"),
               ("metadata", "bars"), ("bars",), ("chart_data", "bars"))
_BAR_KEYS = {"date": ("date", "timestamp", "time", "t"), "open": ("open", "o"),
             "high": ("high", "h"), "low": ("low", "l"), "close": ("close", "c"),
             "volume": ("volume", "v")}


def market_window(payload: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """(where in the payload, the OHLCV bars) of the window a chart was drawn from, or None."""
    for place in _BAR_PLACES:
        value: Any = payload
        for key in place:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, list) and value and all(isinstance(b, dict) for b in value):
            bars = [{name: _first(bar, *keys) for name, keys in _BAR_KEYS.items()}
                    for bar in value]
            return ".".join(place), bars
    return None
