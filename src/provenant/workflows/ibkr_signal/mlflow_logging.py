"""log_to_mlflow's work: params, metrics, chart images and artifact ids into the open run."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from provenant.lineage.context import RunContext

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


def log_execution(run: RunContext, inputs, charts: dict[str, bytes],
                  artifact_ids: list[int]) -> None:
    """One batch of params, metrics and tags, then the charts and the signal as run files."""
    from mlflow.entities import Metric, Param, RunTag

    client = run.client
    now = int(time.time() * 1000)
    client.log_batch(
        run.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in run_metrics(inputs).items()],
        params=[Param(k, v) for k, v in run_params(inputs).items()],
        tags=[RunTag(ARTIFACT_IDS_TAG, ",".join(map(str, artifact_ids))),
              RunTag("signal_action", inputs.signal.action)])
    with tempfile.TemporaryDirectory(prefix="provenant-charts-") as folder:
        for chart_type, png in charts.items():
            (Path(folder) / f"{inputs.symbol}_{chart_type}.png").write_bytes(png)
        client.log_artifacts(run.run_id, folder, artifact_path=CHARTS_DIR)
    client.log_dict(run.run_id, inputs.signal.model_dump(mode="json"), "signal.json")
