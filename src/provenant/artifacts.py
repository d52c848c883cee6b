"""Store artifacts with their lineage: the Python API of the CONTRACT.

An entrypoint (like the CLI): it binds the process's services to the store path
(`provenant.service.storing.ArtifactWriter`), whose methods document the keywords.
"""
from __future__ import annotations

from typing import Any

from provenant import runtime
from provenant.bootstrap import Services, get_services
from provenant.domain.artifacts import Artifact, ArtifactType
from provenant.service.storing import ArtifactWriter
from provenant.store.repository import ArtifactConflict

__all__ = ["ArtifactConflict", "store_artifact", "store_chart_artifact", "store_llm_artifact",
           "store_order_artifact", "store_portfolio_artifact", "store_signal_artifact",
           "store_trade_artifact", "writer_for"]


def writer_for(services: Services | None = None) -> ArtifactWriter:
    """The store path on these services (default: the process's)."""
    return runtime.writer(services or get_services())


def store_artifact(artifact_type: ArtifactType | str, *, services: Services | None = None,
                   **kwargs: Any) -> Artifact:
    """Validate and store one artifact (and its image), lineage resolved as it is stored."""
    return writer_for(services).store(artifact_type, **kwargs)


def _bound(kind: str, keywords: str):
    """`store_<kind>_artifact(**keywords)`: ArtifactWriter.<kind> on the process's services."""
    def store(*, services: Services | None = None, **kwargs: Any) -> Artifact:
        return getattr(writer_for(services), kind)(**kwargs)

    store.__name__ = store.__qualname__ = f"store_{kind}_artifact"
    store.__doc__ = f"Store a {kind} artifact: {keywords} (and extra payload keys)."
    return store


store_chart_artifact = _bound("chart", "name, symbol, image (bytes or a path), chart_type")
store_llm_artifact = _bound("llm", "name, symbol, prompt, response, model_name")
store_signal_artifact = _bound("signal", "name, symbol, action (BUY/SELL/HOLD), confidence")
store_order_artifact = _bound("order", "name, symbol, side, quantity, order_type")
store_trade_artifact = _bound("trade", "name, symbol and the trade's fields")
store_portfolio_artifact = _bound("portfolio", "name, symbol and the snapshot's fields")
