"""log_to_mlflow's work: params, metrics, chart images and artifact ids into the open run."""
from __future__ import annotations

import json

from provenant.adapters.tracking import Tracker
from provenant.domain.provenance import RUN_MANIFEST_PATH, manifest_tags

ARTIFACT_IDS_TAG = "provenant.artifact_ids"
CHARTS_DIR = "charts"


def run_params(inputs) -> dict[str, str]:
    """What was run on what: symbol, providers, model and the data's date range."""
    p = inputs.params
    return {"symbol": inputs.symbol, "market_data_provider": p.market_data_provider,
            "analyst": p.analyst, "model_name": inputs.analysis.model_name,
            "analyst_provider": inputs.analysis.provider, "broker": p.broker,
            "order_quantity": str(p.order_quantity), "bars": str(len(inputs.market.bars)),
            "first_bar": inputs.market.first_date.isoformat(),
            "last_bar": inputs.market.last_date.isoformat()}


def run_metrics(inputs) -> dict[str, float]:
    """The signal's numbers, the latest indicators of both timeframes and step durations."""
    signal = inputs.signal
    metrics = {"confidence": signal.confidence, "score": signal.score,
               "llm_attempts": float(inputs.analysis.attempts)}
    for name in ("entry_price", "stop_loss", "take_profit", "risk_reward"):
        if getattr(signal, name) is not None:
            metrics[name] = getattr(signal, name)
    for snap in (inputs.daily_indicators, inputs.weekly_indicators):
        metrics.update({f"{snap.timeframe}.{k}": v for k, v in snap.values().items()})
    for record in inputs.steps:
        if record.get("duration_ms") is not None:
            metrics[f"step_ms.{record['step']}"] = float(record["duration_ms"])
    return metrics


def log_execution(tracker: Tracker, run_id: str, inputs, charts: dict[str, bytes],
                  artifact_ids: list[int], manifest: bytes | None = None) -> None:
    """One batch of params, metrics and tags, then the charts, the signal and the run
    manifest (its hash also as a tag) as run files.

    A manifest small enough also travels inline in a tag, so `lineage verify` reads it from
    the run searches it makes anyway instead of one file request per run."""
    files = {f"{CHARTS_DIR}/{inputs.symbol}_{chart_type}.png": png
             for chart_type, png in charts.items()}
    files["signal.json"] = json.dumps(inputs.signal.model_dump(mode="json"), indent=2).encode()
    tags = {ARTIFACT_IDS_TAG: ",".join(map(str, artifact_ids)),
            "signal_action": inputs.signal.action}
    if manifest is not None:
        files[RUN_MANIFEST_PATH] = manifest
        tags.update(manifest_tags(manifest))
    tracker.log_run(run_id, params=run_params(inputs), metrics=run_metrics(inputs), tags=tags,
                    files=files)
