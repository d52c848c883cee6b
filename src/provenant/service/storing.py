"""Store an artifact: validate it, decide its lineage once, put its image, insert its row."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenant.adapters.blobs import BlobStore
from provenant.adapters.tracking import Tracker, TrackingUnavailable
from provenant.domain.artifacts import Artifact, ArtifactType, NewArtifact
from provenant.domain.errors import NotFound, Refused
from provenant.domain.lineage import Lineage
from provenant.lineage.context import current_run
from provenant.lineage.resolve import Claims, Resolver
from provenant.service.images import put_image
from provenant.store.repository import ArtifactRepository

# Keywords that place an artifact in a workflow (or its decision chain: `inputs`, the ids
# it was derived from); every other keyword is payload.
CONTEXT_KEYS = ("workflow_id", "execution_id", "run_id", "experiment_id", "dag_id", "task_id",
                "inputs")


@dataclass(frozen=True, slots=True)
class StoreLineage:
    workflow_id: str | None
    execution_id: str | None
    lineage: Lineage | None


def input_ids(inputs: Sequence[int] | None) -> list[int]:
    """The given input ids, each a positive integer; Refused otherwise."""
    ids = list(inputs or ())
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int) or i < 1]
    if bad:
        raise Refused(f"inputs are artifact ids (positive integers), not {bad[0]!r}")
    return ids


class ArtifactWriter:
    """The store path of the Python API, the HTTP API and the workflow's steps."""

    def __init__(self, repository: ArtifactRepository, blobs: BlobStore, tracker: Tracker,
                 claims: Claims) -> None:
        self.repository = repository
        self.blobs = blobs
        self.tracker = tracker
        self.resolver = Resolver(tracker, claims)

    def lineage_for(self, *, workflow_id: str | None, execution_id: str | None,
                    run_id: str | None = None,
                    experiment_id: str | None = None) -> StoreLineage:
        """Explicit ids, else the current run context (no tracking call), else the resolver.

        A resolver that finds nothing, or a tracker that cannot be asked, leaves the lineage
        pending: hydration and the repair job fill it in later.
        """
        run = current_run()
        if run and workflow_id in (None, run.workflow_id) and execution_id in (
                None, run.execution_id):
            workflow_id, execution_id = run.workflow_id, run.execution_id
            if run_id is None:
                return StoreLineage(workflow_id, execution_id, run.lineage)
        if run_id:
            if experiment_id is None:
                found = self.tracker.get_run(run_id)
                if found is None:
                    raise NotFound(f"MLflow run {run_id} does not exist")
                experiment_id = found.experiment_id
            return StoreLineage(workflow_id, execution_id, Lineage(run_id, experiment_id))
        if execution_id is None:
            return StoreLineage(workflow_id, execution_id, None)
        try:
            lineage = self.resolver.resolve_one((workflow_id, execution_id))
        except TrackingUnavailable:
            lineage = None
        return StoreLineage(workflow_id, execution_id, lineage)

    def store(self, artifact_type: ArtifactType | str, *, name: str, symbol: str | None = None,
              payload: dict[str, Any] | None = None, image: bytes | str | Path | None = None,
              step_name: str | None = None, workflow_id: str | None = None,
              execution_id: str | None = None, run_id: str | None = None,
              experiment_id: str | None = None, dag_id: str | None = None,
              task_id: str | None = None, inputs: Sequence[int] | None = None) -> Artifact:
        """Validate and store one artifact (and its image), its lineage decided as it is stored.

        `inputs` are the ids of the artifacts it was derived from (they must exist, in the
        same execution); its content hash is computed as it is stored. Storing again under
        the same (workflow_id, execution_id, step_name, name), as a retried task does,
        returns the stored artifact when the content and inputs are the same and raises
        ArtifactConflict (nothing written) when they differ.
        """
        resolved = self.lineage_for(workflow_id=workflow_id, execution_id=execution_id,
                                    run_id=run_id, experiment_id=experiment_id)
        new = NewArtifact(
            type=artifact_type, name=name, symbol=symbol, payload=payload or {},
            step_name=step_name, workflow_id=resolved.workflow_id,
            execution_id=resolved.execution_id, dag_id=dag_id, task_id=task_id,
            run_id=resolved.lineage.run_id if resolved.lineage else None,
            experiment_id=resolved.lineage.experiment_id if resolved.lineage else None)
        key, content_type = put_image(self.blobs, image) if image is not None else (None, None)
        return self.repository.add(new, key, content_type, input_ids(inputs))

    def chart(self, *, name: str, symbol: str | None, image: bytes | str | Path,
              chart_type: str, step_name: str | None = None, **kwargs: Any) -> Artifact:
        """A chart image (PNG/JPEG/GIF/WebP bytes or a path) with its chart type."""
        return self._typed(ArtifactType.chart, name, symbol, step_name,
                           {"chart_type": chart_type}, kwargs, image=image)

    def llm(self, *, name: str, symbol: str | None, prompt: str, response: str,
            model_name: str, step_name: str | None = None, **kwargs: Any) -> Artifact:
        """An LLM exchange: prompt, response and model (plus provider, latency, tokens)."""
        return self._typed(ArtifactType.llm, name, symbol, step_name,
                           {"prompt": prompt, "response": response, "model_name": model_name},
                           kwargs)

    def signal(self, *, name: str, symbol: str | None, action: str, confidence: float,
               step_name: str | None = None, **kwargs: Any) -> Artifact:
        """A trading signal: BUY/SELL/HOLD with a confidence in [0, 1]."""
        return self._typed(ArtifactType.signal, name, symbol, step_name,
                           {"action": action, "confidence": confidence}, kwargs)

    def order(self, *, name: str, symbol: str | None, side: str, quantity: float,
              order_type: str, step_name: str | None = None, **kwargs: Any) -> Artifact:
        """An order (paper or routed to a broker)."""
        return self._typed(ArtifactType.order, name, symbol, step_name,
                           {"side": side, "quantity": quantity, "order_type": order_type},
                           kwargs)

    def trade(self, *, name: str, symbol: str | None, step_name: str | None = None,
              **kwargs: Any) -> Artifact:
        """An executed trade (side, quantity, price, ...)."""
        return self._typed(ArtifactType.trade, name, symbol, step_name, {}, kwargs)

    def market_data(self, *, name: str, symbol: str | None, bars: list[dict[str, Any]],
                    step_name: str | None = None, **kwargs: Any) -> Artifact:
        """An OHLCV window (`bars` of date, open, high, low, close, volume; plus timeframe,
        provider, first/last bar and count)."""
        return self._typed(ArtifactType.market_data, name, symbol, step_name, {"bars": bars},
                           kwargs)

    def portfolio(self, *, name: str, symbol: str | None = None, step_name: str | None = None,
                  **kwargs: Any) -> Artifact:
        """A portfolio snapshot (positions, cash, ...)."""
        return self._typed(ArtifactType.portfolio, name, symbol, step_name, {}, kwargs)

    def _typed(self, artifact_type: ArtifactType, name: str, symbol: str | None,
               step_name: str | None, fixed: dict[str, Any], kwargs: dict[str, Any],
               image: bytes | str | Path | None = None) -> Artifact:
        context = {k: kwargs.pop(k) for k in CONTEXT_KEYS if k in kwargs}
        return self.store(artifact_type, name=name, symbol=symbol, image=image,
                          step_name=step_name, payload={**fixed, **kwargs}, **context)
