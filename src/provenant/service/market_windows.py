"""The OHLCV window a chart was drawn from: its market_data input, else bars in its payload."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provenant.domain.artifacts import Artifact, ArtifactType
from provenant.domain.legacy import market_window
from provenant.store.repository import ArtifactRepository


@dataclass(frozen=True)
class MarketWindow:
    source: str  # where the bars were found, e.g. "artifact 12: payload.bars"
    bars: list[dict[str, Any]]


def market_window_of(repository: ArtifactRepository, artifact: Artifact) -> MarketWindow | None:
    """The bars of the first market_data artifact `artifact` was derived from, else the ones
    kept in its own payload (the previous system embedded them in chart rows), else None."""
    inputs = repository.get_many(repository.inputs_of(artifact.id))
    for source in sorted(inputs, key=lambda a: a.id):
        found = market_window(source.payload) if source.type == ArtifactType.market_data else None
        if found is not None:
            return MarketWindow(f"artifact {source.id}: payload.{found[0]}", found[1])
    found = market_window(artifact.payload)
    return MarketWindow(f"payload.{found[0]}", found[1]) if found else None
