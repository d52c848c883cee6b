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


def writer_for(services: Services | None = None) -> ArtifactWriter:
    """The store path on these services (default: the process's)."""
    return runtime.writer(services or get_services())


def store_artifact(artifact_type: ArtifactType | str, *, services: Services | None = None,
                   **kwargs: Any) -> Artifact:
    """Validate and store one artifact (and its image), lineage resolved as it is stored."""
    return writer_for(services).store(artifact_type, **kwargs)


def store_chart_artifact(*, services: Services | None = None, **kwargs: Any) -> Artifact:
    """Store a chart image: name, symbol, image (bytes or a path), chart_type, step_name."""
    return writer_for(services).chart(**kwargs)


def store_llm_artifact(*, services: Services | None = None, **kwargs: Any) -> Artifact:
    """Store an LLM exchange: name, symbol, prompt, response, model_name, step_name."""
    return writer_for(services).llm(**kwargs)


def store_signal_artifact(*, services: Services | None = None, **kwargs: Any) -> Artifact:
    """Store a trading signal: name, symbol, action (BUY/SELL/HOLD), confidence, step_name."""
    return writer_for(services).signal(**kwargs)


def store_order_artifact(*, services: Services | None = None, **kwargs: Any) -> Artifact:
    """Store an order: name, symbol, side, quantity, order_type, step_name."""
    return writer_for(services).order(**kwargs)


def store_trade_artifact(*, services: Services | None = None, **kwargs: Any) -> Artifact:
    """Store an executed trade: name, symbol, step_name and its fields."""
    return writer_for(services).trade(**kwargs)


def store_portfolio_artifact(*, services: Services | None = None, **kwargs: Any) -> Artifact:
    """Store a portfolio snapshot: name, symbol, step_name and its fields."""
    return writer_for(services).portfolio(**kwargs)
