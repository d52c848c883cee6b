"""A client that talks to the artifact API the way the previous system's Airflow DAG does.

Written for these tests from that DAG's observable behaviour (its `utils/artifact_storage.py`):
a flat JSON body POSTed to `{BACKEND_API_URL}/api/artifacts/` (trailing slash) with only the
truthy fields of the artifact's type, Decimals sent as floats, no retry on a 4xx (the artifact
is then lost: None), PATCH `/api/artifacts/{id}` for updates (metadata merged client-side after
a GET) and for attaching MLflow lineage. No authentication header.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

_TYPE_FIELDS = {"llm": ("prompt", "response", "model_name"),
                "chart": ("image_path", "chart_type", "chart_data"),
                "signal": ("action", "confidence", "signal_data")}
_CONTEXT = ("symbol", "run_id", "experiment_id", "workflow_id", "execution_id", "step_name",
            "dag_id", "task_id")


def _floats(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


class LegacyDagClient:
    """The old DAG's artifact calls, pointed at `backend_url` (its BACKEND_API_URL)."""

    def __init__(self, backend_url: str) -> None:
        self.backend_url = backend_url.rstrip("/")
        self.last_status: int | None = None
        self.last_body: Any = None

    def store_artifact(self, name: str, artifact_type: str, **fields: Any) -> dict | None:
        """POST the flat body; the created artifact, or None on a client error."""
        body: dict[str, Any] = {"name": name, "type": artifact_type}
        for key in _CONTEXT + _TYPE_FIELDS.get(artifact_type, ()):
            value = fields.get(key)
            if key == "confidence" and value is not None:
                body[key] = float(value)
            elif value:
                body[key] = _floats(value)
        for key in ("metadata", "chart_data"):
            if fields.get(key):
                body[key] = _floats(fields[key])
        return self._send("post", f"{self.backend_url}/api/artifacts/", body)

    def store_order_artifact(self, name: str, symbol: str, order_id: str, order_type: str,
                             side: str, quantity: int, status: str, **context: Any) -> dict | None:
        """Orders were stored as signals marked `signal_data.artifact_type = order`."""
        order = {"order_id": order_id, "order_type": order_type, "side": side,
                 "quantity": quantity, "status": status}
        return self.store_artifact(name, "signal", symbol=symbol, action=side,
                                   confidence=1.0 if status == "filled" else 0.5,
                                   signal_data={"artifact_type": "order", **order},
                                   metadata=order, **context)

    def store_trade_artifact(self, name: str, symbol: str, trade_id: str, order_id: str,
                             quantity: int, price: float, side: str, **context: Any) -> dict | None:
        """Trades likewise, with the side IB reported (BOT/SLD)."""
        trade = {"trade_id": trade_id, "order_id": order_id, "quantity": quantity,
                 "price": price, "side": side}
        return self.store_artifact(name, "signal", symbol=symbol, action=side, confidence=1.0,
                                   signal_data={"artifact_type": "trade", **trade},
                                   metadata=trade, **context)

    def store_portfolio_artifact(self, name: str, account_id: str, total_value: float,
                                 cash_balance: float, positions: list, **context: Any
                                 ) -> dict | None:
        """Portfolio snapshots likewise, with action HOLD and no symbol."""
        snapshot = {"account_id": account_id, "total_value": total_value,
                    "cash_balance": cash_balance, "position_count": len(positions),
                    "positions": positions}
        return self.store_artifact(name, "signal", action="HOLD", confidence=1.0,
                                   signal_data={"artifact_type": "portfolio", **snapshot},
                                   metadata=snapshot, **context)

    def update_artifact(self, artifact_id: int, updates: dict[str, Any],
                        merge_metadata: bool = True) -> dict | None:
        """PATCH fields; with `merge_metadata` the stored metadata is read and merged first."""
        updates = dict(updates)
        url = f"{self.backend_url}/api/artifacts/{artifact_id}"
        if merge_metadata and "metadata" in updates:
            current = requests.get(url, timeout=5)
            if current.status_code == 200 and current.json().get("metadata"):
                updates["metadata"] = {**current.json()["metadata"], **updates["metadata"]}
        return self._send("patch", url, _floats(updates))

    def attach_artifact_lineage(self, artifact_ids: list[int], run_id: str | None,
                                experiment_id: str | None) -> None:
        """PATCH run_id (and experiment_id) onto each artifact; failures are only logged."""
        if not run_id:
            return
        lineage = {"run_id": run_id} | ({"experiment_id": experiment_id} if experiment_id else {})
        for artifact_id in filter(None, artifact_ids):
            self.update_artifact(artifact_id, lineage, merge_metadata=False)

    def _send(self, method: str, url: str, body: dict[str, Any]) -> dict | None:
        for _attempt in range(3):
            try:
                answer = requests.request(method, url, json=body, timeout=10)
            except requests.ConnectionError:
                continue
            self.last_status, self.last_body = answer.status_code, answer.text
            if 400 <= answer.status_code < 500 and answer.status_code != 429:
                return None  # the old client gives up on a client error: the artifact is lost
            if answer.ok:
                return answer.json()
        return None
