"""A decision chain stored the way the workflow stores it (for provenance and evidence tests)."""
from __future__ import annotations

from provenant.artifacts import (
    store_chart_artifact, store_llm_artifact, store_order_artifact, store_signal_artifact)
from provenant.lineage import mlflow_run_context
from tests.support.api import WF, png_bytes

EXECUTION = "manual__2026-11-28T10:00:00+00:00"


def store_chain(services, execution: str = EXECUTION) -> dict:
    """order <- signal <- analysis <- daily and weekly charts, stored in one run."""
    s = {"services": services, "symbol": "TSLA"}
    with mlflow_run_context(WF, execution, services=services):
        daily = store_chart_artifact(name="daily", image=png_bytes(), chart_type="daily",
                                     step_name="generate_daily_chart", **s)
        weekly = store_chart_artifact(name="weekly", image=png_bytes((0, 90, 0)),
                                      chart_type="weekly", step_name="generate_weekly_chart", **s)
        llm = store_llm_artifact(name="analysis", prompt="p", response="r", model_name="m",
                                 step_name="analyze_with_llm", inputs=[daily.id, weekly.id], **s)
        signal = store_signal_artifact(name="signal", action="BUY", confidence=0.7,
                                       step_name="generate_signal", inputs=[llm.id], **s)
        order = store_order_artifact(name="order", side="BUY", quantity=10, order_type="LMT",
                                     step_name="place_order", inputs=[signal.id], **s)
    return {"daily": daily, "weekly": weekly, "llm": llm, "signal": signal, "order": order}
