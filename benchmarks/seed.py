"""Bulk-load artifact rows straight into the table (executemany / COPY), bypassing store code."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

from sqlalchemy import Engine

from provenant.domain.provenance import content_hash
from provenant.store.tables import artifacts

SYMBOLS = ("TSLA", "MSFT", "NVDA", "NFLX", "AMZN", "BTC-USD")
COLUMNS = [c.name for c in artifacts.columns]
_PROMPT = "Analyse the daily and weekly candlestick charts of {s}. " * 8
_RESPONSE = "Momentum is positive, volume confirms the breakout above resistance. " * 10
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

# One execution of the workflow stores two charts, one LLM analysis and one signal.
_STEPS = (("chart", "plot_daily_chart"), ("chart", "plot_weekly_chart"),
          ("llm", "analyze_charts"), ("signal", "generate_signal"))
STEPS = len(_STEPS)


def legacy_execution_id(n: int) -> str:
    """An execution id in the previous system's format (`2025-11-15 13:54:31.981650+00:00`)."""
    return str(EPOCH + timedelta(minutes=n, microseconds=n * 7919 % 1_000_000))


def _payload(kind: str, symbol: str, i: int) -> dict:
    if kind == "chart":
        return {"chart_type": "daily" if i % 2 == 0 else "weekly"}
    if kind == "llm":
        return {"prompt": _PROMPT.format(s=symbol), "response": _RESPONSE,
                "model_name": "gpt-4o-mini"}
    return {"action": ("BUY", "SELL", "HOLD")[i % 3], "confidence": round(0.5 + i % 50 / 100, 2)}


def artifact_rows(count: int, *, workflow_id: str, execution_of: Callable[[int], str],
                  lineage_of: Callable[[int], tuple[str, str] | None] = lambda i: None,
                  start_id: int = 1, chart_image_key: str | None = None,
                  hashed: bool = False) -> Iterator[tuple]:
    """`count` rows (tuples in COLUMNS order) shaped like real workflow output.

    Charts name `chart_image_key` (one stored image shared by all) or, by default, a key
    with no blob behind it. `hashed` rows carry their content hash, as stores compute it.
    """
    for offset in range(count):
        i = start_id + offset
        kind, step = _STEPS[offset % len(_STEPS)]
        symbol = SYMBOLS[(offset // len(_STEPS)) % len(SYMBOLS)]
        lineage = lineage_of(offset)
        stamp = EPOCH + timedelta(seconds=i)
        payload = _payload(kind, symbol, i)
        values = {
            "id": i, "type": kind, "name": f"{symbol} {step}", "symbol": symbol,
            "workflow_id": workflow_id, "execution_id": execution_of(offset),
            "step_name": step, "dag_id": workflow_id, "task_id": step,
            "run_id": lineage[0] if lineage else None,
            "experiment_id": lineage[1] if lineage else None, "lineage_repaired_at": None,
            "payload": json.dumps(payload),
            "image_key": (chart_image_key or f"{i:064x}.png") if kind == "chart" else None,
            "image_content_type": "image/png" if kind == "chart" else None,
            "content_sha256": None, "imported": False, "sealed_by_run": None,  # not legacy
            "created_at": stamp, "updated_at": stamp,
        }
        if hashed:
            values["content_sha256"] = content_hash(
                kind, values["name"], symbol, payload,
                values["image_key"] and values["image_key"].split(".")[0])
        yield tuple(values[c] for c in COLUMNS)


def bulk_insert(engine: Engine, rows: Iterable[tuple], batch: int = 20_000) -> int:
    """Insert rows fast: SQLite executemany in one transaction, PostgreSQL COPY."""
    raw = engine.raw_connection()
    inserted = 0
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY artifacts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    inserted += 1
            cursor.execute("SELECT setval(pg_get_serial_sequence('artifacts', 'id'), "
                           "GREATEST((SELECT MAX(id) FROM artifacts), 1))")
            raw.commit()
            cursor.execute("ANALYZE artifacts")
        else:
            sql = (f"INSERT INTO artifacts ({', '.join(COLUMNS)}) "
                   f"VALUES ({', '.join('?' * len(COLUMNS))})")
            cursor.execute("BEGIN")
            iterator = iter(rows)
            while chunk := [_sqlite_row(r) for r in islice(iterator, batch)]:
                cursor.executemany(sql, chunk)
                inserted += len(chunk)
            cursor.execute("COMMIT")
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return inserted


def _sqlite_row(row: tuple) -> tuple:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC text).
    return tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
                 for v in row)


def chain_edges(count: int, start_id: int = 1) -> Iterator[tuple[int, int, bool]]:
    """(artifact_id, input_id, inferred) of artifact_rows' executions: llm <- both charts,
    signal <- llm."""
    for first in range(start_id, start_id + count - STEPS + 1, STEPS):
        daily, weekly, llm, signal = first, first + 1, first + 2, first + 3
        yield from ((llm, daily, False), (llm, weekly, False), (signal, llm, False))


def bulk_insert_edges(engine: Engine, edges: Iterable[tuple[int, int, bool]]) -> int:
    """Insert derivation edges (COPY / executemany), then ANALYZE them as autovacuum would:
    without statistics PostgreSQL plans a walk as a scan of every edge."""
    edges = list(edges)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy("COPY artifact_inputs (artifact_id, input_id, inferred) "
                             "FROM STDIN") as copy:
                for edge in edges:
                    copy.write_row(edge)
        else:
            cursor.executemany("INSERT INTO artifact_inputs (artifact_id, input_id, inferred) "
                               "VALUES (?, ?, ?)", edges)
        raw.commit()
        cursor.execute("ANALYZE artifact_inputs")
        raw.commit()
    finally:
        raw.close()
    return len(edges)
