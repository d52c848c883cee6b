"""Store artifacts with their lineage: the Python API of the CONTRACT."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from provenant.bootstrap import Services, get_services
from provenant.domain.artifacts import Artifact, ArtifactType, NewArtifact
from provenant.lineage.resolve import resolve_store_lineage
from provenant.store.blobs import image_key, sniff_image
from provenant.store.repository import ArtifactConflict

__all__ = ["ArtifactConflict", "store_artifact", "store_chart_artifact", "store_llm_artifact",
           "store_order_artifact", "store_portfolio_artifact", "store_signal_artifact",
           "store_trade_artifact"]


def store_artifact(artifact_type: ArtifactType | str, *, name: str, symbol: str | None = None,
                   payload: dict[str, Any] | None = None, image: bytes | str | Path | None = None,
                   step_name: str | None = None, workflow_id: str | None = None,
                   execution_id: str | None = None, run_id: str | None = None,
                   experiment_id: str | None = None, dag_id: str | None = None,
                   task_id: str | None = None, services: Services | None = None) -> Artifact:
    """Validate and store one artifact (and its image), lineage resolved as it is stored.

    Storing again under the same (workflow_id, execution_id, step_name, name), as a
    retried task does, returns the stored artifact when the content is the same and
    raises ArtifactConflict (nothing written) when it differs.
    """
    services = services or get_services()
    resolved = resolve_store_lineage(services, workflow_id=workflow_id, execution_id=execution_id,
                                     run_id=run_id, experiment_id=experiment_id)
    new = NewArtifact(
        type=artifact_type, name=name, symbol=symbol, payload=payload or {},
        step_name=step_name, workflow_id=resolved.workflow_id,
        execution_id=resolved.execution_id, dag_id=dag_id, task_id=task_id,
        run_id=resolved.lineage.run_id if resolved.lineage else None,
        experiment_id=resolved.lineage.experiment_id if resolved.lineage else None)
    key = content_type = None
    if image is not None:
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        content_type = sniff_image(data)
        key = image_key(data, content_type)
        services.blobs.put(key, data, content_type)  # blob first: a row never points at nothing
    return services.artifacts.add(new, key, content_type)


def store_chart_artifact(*, name: str, symbol: str | None, image: bytes | str | Path,
                         chart_type: str, step_name: str | None = None,
                         **kwargs: Any) -> Artifact:
    """Store a chart image (PNG/JPEG/GIF/WebP bytes or a path) with its chart type."""
    common, extra = _split(kwargs)
    return store_artifact(ArtifactType.chart, name=name, symbol=symbol, image=image,
                          step_name=step_name, payload={"chart_type": chart_type, **extra},
                          **common)


def store_llm_artifact(*, name: str, symbol: str | None, prompt: str, response: str,
                       model_name: str, step_name: str | None = None,
                       **kwargs: Any) -> Artifact:
    """Store an LLM exchange: prompt, response and model (plus provider, latency, tokens)."""
    common, extra = _split(kwargs)
    payload = {"prompt": prompt, "response": response, "model_name": model_name, **extra}
    return store_artifact(ArtifactType.llm, name=name, symbol=symbol, payload=payload,
                          step_name=step_name, **common)


def store_signal_artifact(*, name: str, symbol: str | None, action: str, confidence: float,
                          step_name: str | None = None, **kwargs: Any) -> Artifact:
    """Store a trading signal: BUY/SELL/HOLD with a confidence in [0, 1]."""
    common, extra = _split(kwargs)
    payload = {"action": action, "confidence": confidence, **extra}
    return store_artifact(ArtifactType.signal, name=name, symbol=symbol, payload=payload,
                          step_name=step_name, **common)


def store_order_artifact(*, name: str, symbol: str | None, side: str, quantity: float,
                         order_type: str, step_name: str | None = None,
                         **kwargs: Any) -> Artifact:
    """Store an order (paper or routed to a broker)."""
    common, extra = _split(kwargs)
    payload = {"side": side, "quantity": quantity, "order_type": order_type, **extra}
    return store_artifact(ArtifactType.order, name=name, symbol=symbol, payload=payload,
                          step_name=step_name, **common)


def store_trade_artifact(*, name: str, symbol: str | None, step_name: str | None = None,
                         **kwargs: Any) -> Artifact:
    """Store an executed trade (side, quantity, price, ...)."""
    common, extra = _split(kwargs)
    return store_artifact(ArtifactType.trade, name=name, symbol=symbol, payload=extra,
                          step_name=step_name, **common)


def store_portfolio_artifact(*, name: str, symbol: str | None = None,
                             step_name: str | None = None, **kwargs: Any) -> Artifact:
    """Store a portfolio snapshot (positions, cash, ...)."""
    common, extra = _split(kwargs)
    return store_artifact(ArtifactType.portfolio, name=name, symbol=symbol, payload=extra,
                          step_name=step_name, **common)


_COMMON = ("workflow_id", "execution_id", "run_id", "experiment_id", "dag_id", "task_id",
           "services")


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Workflow/lineage keywords vs. extra payload keys."""
    common = {k: kwargs.pop(k) for k in _COMMON if k in kwargs}
    return common, kwargs
