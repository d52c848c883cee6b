"""The previous system's table as its own DDL creates it (tests/support/legacy_ddl.sql), filled
with rows shaped as its DAG writes them: charts with MinIO URLs or container paths and the
LLM context PATCHed onto them, an HTML chart, orders/trades/portfolios stored as signals, an IB
fill with side BOT, DECIMAL confidences, a market_data row."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

DDL = (Path(__file__).with_name("legacy_ddl.sql")).read_text()
WORKFLOW = "ibkr_trading_signal_workflow"
EXECUTION = "2025-11-15 13:54:31.981650+00:00"
CREATED = datetime(2025, 11, 15, 13, 54, 40, tzinfo=UTC)
UPDATED = datetime(2025, 11, 15, 13, 58, 2, 123456, tzinfo=UTC)
_JSON = ("chart_data", "signal_data", "artifact_metadata")
_COLUMNS = ("id", "name", "type", "symbol", "run_id", "experiment_id", "workflow_id",
            "execution_id", "step_name", "dag_id", "task_id", "prompt", "response",
            "prompt_length", "response_length", "model_name", "image_path", "chart_type",
            "chart_data", "action", "confidence", "signal_data", "artifact_metadata",
            "created_at", "updated_at")


def bars(count: int) -> list[dict[str, Any]]:
    start = datetime(2024, 11, 15, tzinfo=UTC)
    return [{"date": (start + timedelta(days=i)).isoformat(), "open": 250.0 + i % 7,
             "high": 255.5 + i % 7, "low": 248.25 + i % 7, "close": 252.75 + i % 7,
             "volume": 80_000_000 + i} for i in range(count)]


def _context(step: str) -> dict[str, Any]:
    return {"symbol": "TSLA", "workflow_id": WORKFLOW, "execution_id": EXECUTION,
            "step_name": step, "dag_id": WORKFLOW, "task_id": step, "created_at": CREATED,
            "updated_at": UPDATED}


def chart(id: int, image_path: str, timeframe: str = "daily") -> dict[str, Any]:
    """A chart as stored, then PATCHed with the LLM's prompt/response/model."""
    prompt = "Analyze TSLA daily and weekly charts with technical indicators."
    response = "Price above SMA 20 and SMA 50; RSI 61; momentum positive."
    return {"id": id, "name": f"TSLA {timeframe.title()} Chart", "type": "chart",
            **_context(f"generate_{timeframe}_chart"), "image_path": image_path,
            "chart_type": timeframe, "prompt": prompt, "response": response,
            "prompt_length": len(prompt), "response_length": len(response),
            "model_name": "gpt-4o",
            "chart_data": {"indicators": ["SMA_20", "SMA_50", "RSI_14", "MACD"],
                           "timeframe": timeframe, "bars_count": 250, "minio_url": None},
            "artifact_metadata": {
                "market_data_snapshot": {"symbol": "TSLA", "timeframe": timeframe,
                                         "bar_count": 250, "bars": bars(250),
                                         "ibkr_connection": {"host": "ibkr-gateway",
                                                             "port": 4002}},
                "indicator_summary": {"sma_20": 251.2, "rsi_14": 61.3},
                "llm_analysis": {"action": "BUY", "confidence_score": 72.0}}}


def dag_rows(minio: str) -> list[dict[str, Any]]:
    """Every kind of row the old DAG wrote, ids 21..30 (with its quirks)."""
    return [
        chart(21, f"{minio}/trading-charts/charts/TSLA/daily/20251115_135431.png"),
        chart(22, "/app/charts/TSLA_1W_20251115_135431.jpeg", "weekly"),
        chart(23, "/app/charts/TSLA_1D_20251115_135431.html"),  # plotly fallback
        {"id": 24, "name": "TSLA LLM Analysis", "type": "llm", **_context("analyze_with_llm"),
         "prompt": "Analyze TSLA", "response": "Bullish.", "prompt_length": 12,
         "response_length": 8, "model_name": "gpt-4o"},
        {"id": 25, "name": "TSLA BUY Signal", "type": "signal", **_context("analyze_with_llm"),
         "action": "BUY", "confidence": "0.72",
         "signal_data": {"confidence_level": "HIGH", "confidence_score": 72.0,
                         "entry_price": 251.3, "is_actionable": True},
         "artifact_metadata": {"order_status": "Submitted", "limit_price_source": "signal"}},
        {"id": 26, "name": "TSLA BUY Order", "type": "signal", **_context("place_order"),
         "action": "BUY", "confidence": "0.50",
         "signal_data": {"artifact_type": "order", "order_id": "17", "order_type": "LMT",
                         "side": "BUY", "quantity": 10, "price": 251.3,
                         "status": "Submitted"}},
        {"id": 27, "name": "TSLA Trade Execution", "type": "signal", **_context("get_trades"),
         "action": "BOT", "confidence": "1.00",
         "signal_data": {"artifact_type": "trade", "trade_id": "0000e0d5.6571", "order_id": "17",
                         "quantity": 10, "price": 251.28, "side": "BOT",
                         "total_commission": 1.0}},
        {"id": 28, "name": "Portfolio Snapshot", "type": "signal", **_context("get_portfolio"),
         "symbol": None, "action": "HOLD", "confidence": "1.00",
         "signal_data": {"artifact_type": "portfolio", "account_id": "DU1234567",
                         "total_value": 100250.5, "cash_balance": 97737.7,
                         "positions": [{"symbol": "TSLA", "quantity": 10,
                                        "average_cost": 251.28}]}},
        {"id": 29, "name": "TSLA market data", "type": "market_data",
         **_context("fetch_market_data"),
         "artifact_metadata": {"bars": bars(5), "ibkr_port": 4002}},
        {"id": 30, "name": "TSLA Weekly Chart", "type": "chart",
         **_context("generate_weekly_chart"), "chart_type": "weekly",
         "image_path": f"{minio}/trading-charts/charts/TSLA/weekly/20251115_135431.png"},
    ]


class LegacyPostgres:
    """The old DDL in its own schema of the test PostgreSQL, at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(DDL)

    def add(self, *rows: dict[str, Any]) -> "LegacyPostgres":
        values = ", ".join(f"CAST(:{c} AS JSONB)" if c in _JSON else f":{c}" for c in _COLUMNS)
        insert = text(f"INSERT INTO artifacts ({', '.join(_COLUMNS)}) VALUES ({values})")
        with self.engine.begin() as conn:
            for row in rows:
                conn.execute(insert, {c: json.dumps(row[c]) if c in _JSON and row.get(c)
                                      is not None else row.get(c) for c in _COLUMNS})
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('artifacts', 'id'), "
                                 "(SELECT MAX(id) FROM artifacts))")
        return self

    def close(self) -> None:
        self.engine.dispose()
