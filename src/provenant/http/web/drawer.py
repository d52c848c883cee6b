"""What the Artifact Detail drawer shows: lineage in words and a body per artifact type."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from provenant.domain.artifacts import Artifact, ArtifactType
from provenant.domain.lineage import LineageStatus, mlflow_run_url
from provenant.http.web.format import (
    label, number_or_none, show, show_latency, show_number, show_percent, show_time,
)
from provenant.http.web.ohlcv import OhlcvTable, ohlcv_of

STATUS_WORDS = {
    LineageStatus.persisted: "Captured",
    LineageStatus.repaired: "Repaired",
    LineageStatus.pending: "Pending",
    LineageStatus.unavailable: "Unavailable",
}


@dataclass(frozen=True)
class LineageView:
    """The ribbon's lineage: ids, status in words, and the deep link or why there is none."""

    status: str
    words: str
    explanation: str
    run_id: str | None
    experiment_id: str | None
    url: str | None
    no_link_reason: str | None  # only when ids exist but make no valid link


def lineage_view(artifact: Artifact, status: LineageStatus, ui_url: str) -> LineageView:
    """Describe an artifact's lineage for people; `status` comes from hydration or storage."""
    lineage = artifact.lineage
    url = mlflow_run_url(ui_url, lineage)
    explanation = {
        LineageStatus.persisted: "Captured when the artifact was stored.",
        LineageStatus.repaired:
            f"Filled in from MLflow on {show_time(artifact.lineage_repaired_at)}.",
        LineageStatus.pending: (
            "No MLflow run has been logged for this execution yet; the link appears "
            "once the run exists." if artifact.execution_id else
            "This artifact names no workflow execution, so no MLflow run can be found for it."),
        LineageStatus.unavailable: (
            "The MLflow tracking server could not be reached, so the run could not be "
            "looked up. Try again later."),
    }[status]
    reason = None
    if url is None and lineage is not None:
        reason = ("The stored run or experiment id is not a valid MLflow id, so no link "
                  "can be built.")
    return LineageView(status=status.value, words=STATUS_WORDS[status], explanation=explanation,
                       run_id=lineage.run_id if lineage else None,
                       experiment_id=lineage.experiment_id if lineage else None,
                       url=url, no_link_reason=reason)


@dataclass
class Table:
    """A list of records (OHLCV bars, positions, ...) as rows under shared columns."""

    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """A nested object as a collapsible block: its scalars, its record lists, its objects."""

    key: str
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    children: list["Section"] = field(default_factory=list)


@dataclass
class Body:
    """The type-specific part of the drawer: labelled facts, long texts and leftovers."""

    title: str = "Details"
    facts: list[tuple[str, str]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    indicators: list[tuple[str, str]] = field(default_factory=list)
    ohlcv: OhlcvTable | None = None  # a market_data artifact's bars
    extra: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


# The facts each type always shows (a dash when absent): label, payload key, format.
_FACTS: dict[ArtifactType, list[tuple[str, str, Callable[[Any], str]]]] = {
    ArtifactType.chart: [("Chart type", "chart_type", show)],
    ArtifactType.llm: [("Model", "model_name", show), ("Provider", "provider", show),
                       ("Latency", "latency_ms", show_latency),
                       ("Prompt tokens", "prompt_tokens", show),
                       ("Completion tokens", "completion_tokens", show)],
    ArtifactType.signal: [("Action", "action", show), ("Confidence", "confidence", show_percent),
                          ("Entry", "entry_price", show), ("Stop", "stop_loss", show),
                          ("Target", "take_profit", show), ("Risk-reward", "risk_reward", show)],
    ArtifactType.order: [("Side", "side", show), ("Quantity", "quantity", show),
                         ("Order type", "order_type", show), ("Limit price", "limit_price", show),
                         ("Stop", "stop_loss", show), ("Target", "take_profit", show)],
    ArtifactType.market_data: [("Timeframe", "timeframe", show), ("Provider", "provider", show),
                               ("First bar", "first_bar", show), ("Last bar", "last_bar", show),
                               ("Bars", "bar_count", show)],
}
_TITLES = {ArtifactType.chart: "Chart", ArtifactType.llm: "LLM analysis",
           ArtifactType.signal: "Signal", ArtifactType.order: "Order",
           ArtifactType.market_data: "Market data"}
# Long texts, shown whole in their own blocks.
_TEXTS: dict[ArtifactType, list[tuple[str, str]]] = {
    ArtifactType.llm: [("Prompt", "prompt"), ("Response", "response")],
    ArtifactType.signal: [("Rationale", "rationale")],
}


def body_of(artifact: Artifact) -> Body:
    """Split the payload into the type's facts, its long texts, indicators and the rest."""
    payload, body = artifact.payload, Body(title=_TITLES.get(artifact.type, "Details"))
    if artifact.type == ArtifactType.market_data:
        body.ohlcv, payload = ohlcv_of(payload)
    facts, texts = _FACTS.get(artifact.type, []), _TEXTS.get(artifact.type, [])
    body.facts = [(title, fmt(payload.get(key))) for title, key, fmt in facts]
    body.texts = [(title, show(payload.get(key))) for title, key in texts]
    indicators = payload.get("indicators")
    if isinstance(indicators, dict):
        body.indicators = [(label(k), _indicator(v)) for k, v in indicators.items()]
    used = {key for _, key, _ in facts} | {key for _, key in texts} | {"indicators"}
    rest = section_of("details", "Details", {k: v for k, v in payload.items() if k not in used})
    body.extra, body.sections = rest.facts, rest.children
    body.sections[:0] = [Section(key=f"table-{i}", title=t.title, tables=[t])
                         for i, t in enumerate(rest.tables)]
    return body


# Integers that name something (ids, ports, accounts, years) are shown as written: 4002, not
# 4,002.
_NAMING_WORDS = ("id", "port", "account", "conid", "year", "number", "code")


def show_field(key: Any, value: Any) -> str:
    """A payload value for display, knowing its key (identifiers keep their digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        words = str(key).lower().replace("-", "_").split("_")
        if any(w in _NAMING_WORDS or w.endswith("id") for w in words):
            return str(value)
    return show(value)


def section_of(key: str, title: str, value: dict[str, Any]) -> Section:
    """A nested object as a section: scalars as facts, record lists as tables, objects nested."""
    section = Section(key=key, title=title)
    for name, item in value.items():
        if isinstance(item, dict) and item:
            section.children.append(section_of(f"{key}-{name}", label(name), item))
        elif _is_records(item):
            section.tables.append(_table(label(name), item))
        elif isinstance(item, list):
            section.facts.append((label(name), ", ".join(show_field(name, v) for v in item)
                                  or show(None)))
        else:
            section.facts.append((label(name), show_field(name, item)))
    return section


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(title: str, records: list[dict[str, Any]]) -> Table:
    columns: list[str] = []
    for record in records:
        columns.extend(k for k in record if k not in columns)
    rows = [[_cell(c, record.get(c)) for c in columns] for record in records]
    return Table(title=f"{title} ({len(records)})", columns=[label(c) for c in columns],
                 rows=rows)


def _cell(key: str, value: Any) -> str:
    if isinstance(value, dict | list):
        return show(value)
    return show_field(key, value)


def _indicator(value: Any) -> str:
    number = number_or_none(value) if not isinstance(value, str) else None
    return show_number(number) if number is not None else show(value)
