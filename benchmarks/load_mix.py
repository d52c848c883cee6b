"""The Python side of `benchmarks.load`: the mix's config for wrk, the repair ticker, late runs.

The requests themselves are made by wrk running benchmarks/wrk/mix.lua (one keep-alive
connection per wrk thread, closed loop); this module writes what that script reads
(seeded ids, expected runs, images, the weights) and, beside it, POSTs the repair trigger
on a timer and makes the MLflow runs of "late" charts the script posted.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select

from benchmarks.images import chart_png, variant
from benchmarks.mlflow_seed import SeededRun
from provenant.adapters.tracking import EXECUTION_TAG, WORKFLOW_TAG
from provenant.store.tables import artifacts

# Operation -> weight in each connection's mix; the repair trigger runs on its own ticker.
MIX = {"list_page": 14, "get_persisted": 14, "get_legacy": 10, "get_image": 8,
       "get_image_304": 3, "get_execution": 3, "post_artifact": 10, "put_image": 5,
       "list_repairs": 4, "ui_list": 4, "ui_detail": 4, "ui_drawer": 3}
REPAIR = "repair_trigger"
OPERATIONS = (*MIX, REPAIR)
REQUEST_TIMEOUT_S = 30.0
# Server counters worth reporting: why hydrations answered what they did.
METRICS = ("provenant_hydrations_total", "provenant_tracking_failures_total",
           "provenant_tracking_calls_total")


@dataclass
class Seeded:
    """What the server's database and MLflow hold before the load starts."""

    workflow_id: str
    late_workflow_id: str
    late_experiment_id: str
    persisted_ids: list[int]  # lineage captured at store time
    legacy_ids: list[int]  # no run id; their runs exist in MLflow, so reading hydrates them
    legacy_execution: dict[int, str]  # legacy id -> its execution id
    executions: list[str]  # execution ids of the persisted artifacts
    runs: dict[str, SeededRun]  # execution id -> its run
    image_sha: dict[int, str]  # chart id -> sha256 of its image (the ETag)
    image_len: dict[str, int]  # sha256 -> size of the image
    rows: int


@dataclass
class OpStats:
    """Latencies (seconds) and failures (reason -> count) of one operation."""

    latencies: list[float] = field(default_factory=list)
    in_flight: int = 0  # sent, unanswered when wrk stopped (within the request timeout)
    errors: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # the first few, for the report



@dataclass
class MixResult:
    """What mix.lua's threads saw, merged: per-operation stats, posts, uploads."""

    ops: dict[str, OpStats]
    posted: dict[int, tuple[str, str]]  # id -> (type, name)
    uploaded: dict[int, str]  # chart id -> sha256 of the image uploaded (variant of its id)
    legacy_status: Counter  # lineage status of each get_legacy answer

    @classmethod
    def merge(cls, data: dict) -> "MixResult":
        """Merge the per-thread reports of mix.lua's result line (empty lists come as {})."""
        merged = cls({op: OpStats() for op in MIX}, {}, {}, Counter())
        for thread in data["threads"]:
            for op, seen in (thread["ops"] or {}).items():
                stats = merged.ops.setdefault(op, OpStats())
                stats.latencies += [us / 1e6 for us in seen["latencies_us"] or []]
                stats.errors.update(seen["errors"] or {})
                stats.samples += list(seen["samples"] or [])[:3 - len(stats.samples)]
            for op, age in thread.get("in_flight") or []:
                stats = merged.ops.setdefault(op, OpStats())
                if age > REQUEST_TIMEOUT_S:
                    stats.errors["no answer in the request timeout (in flight at stop)"] += 1
                else:
                    stats.in_flight += 1
            merged.posted.update({i: (kind, name) for i, kind, name in thread["posted"] or []})
            merged.uploaded.update({i: _upload_sha(i) for i in thread["uploaded"] or []})
            merged.legacy_status.update(thread["legacy_status"] or {})
        return merged


def _upload_sha(artifact_id: int) -> str:
    """The sha256 of what mix.lua uploads for a chart: variant(chart_png(), its id)."""
    return hashlib.sha256(variant(chart_png(), artifact_id)).hexdigest()


def lua(value) -> str:
    """A Lua literal of a JSON-like value (ids and hex strings: JSON escapes suffice)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"[{lua(k)}]={lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ",".join(lua(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


def write_config(path: Path, seeded: Seeded, token: str, seed: int = 1) -> None:
    """mix.lua's config, and beside it the PNG whose variants put_image uploads."""
    png = path.with_name("chart.png")
    png.write_bytes(chart_png())
    executions = seeded.executions
    config = {
        "seed": seed, "token": token, "workflow_id": seeded.workflow_id,
        "late_workflow_id": seeded.late_workflow_id, "mix": [[op, w] for op, w in MIX.items()],
        "persisted_ids": seeded.persisted_ids, "legacy_ids": seeded.legacy_ids,
        "legacy_run": {i: seeded.runs[e].run_id for i, e in seeded.legacy_execution.items()},
        "executions": executions,
        "execution_runs": [seeded.runs[e].run_id for e in executions],
        "execution_experiments": [seeded.runs[e].experiment_id for e in executions],
        "image_ids": list(seeded.image_sha), "image_sha": seeded.image_sha,
        "image_len": seeded.image_len, "chart_png": str(png),
    }
    path.write_text("return " + lua(config) + "\n")


class Ticker:
    """Beside wrk: the repair trigger on a timer, and the MLflow runs of late charts."""

    def __init__(self, base_url: str, seeded: Seeded, token: str, services) -> None:
        self.base_url, self.seeded, self.token = base_url, seeded, token
        self.services, self.mlflow = services, services.tracker.client
        self.stats = {REPAIR: OpStats(), "settle": OpStats()}
        self.late_runs: dict[str, SeededRun] = {}
        self.repairs: list[dict] = []
        self.metrics: dict[str, float] = {}  # the server's METRICS after the load
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, every: float) -> None:
        """Alternate a dry run over the whole backlog with a real repair of the late ones."""
        self._thread = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _loop(self, every: float) -> None:
        tick, start = 0, time.perf_counter()
        while not self._stop.is_set():
            if tick % 2:
                self.create_late_runs()
                self.repair({"workflow_id": self.seeded.late_workflow_id})
            else:
                self.repair({"dry_run": True})
            tick += 1  # on a fixed schedule: a slow repair does not push the next one back
            self._stop.wait(max(0.0, start + tick * every - time.perf_counter()))

    def settle(self) -> None:
        """After the load: every late chart's run exists, one repair links them; metrics."""
        self.create_late_runs()
        self.repair({"workflow_id": self.seeded.late_workflow_id}, op="settle")
        text = self.call("settle", "GET", "/metrics")
        self.metrics = {line.split(" ")[0]: float(line.split(" ")[1])
                        for line in (text or "").splitlines()
                        if line.startswith(METRICS) and "_created" not in line}

    def create_late_runs(self) -> None:
        """Make the MLflow runs of late executions posted so far (what a late run looks like)."""
        t = artifacts.c
        with self.services.engine.connect() as conn:
            posted = conn.scalars(select(t.execution_id).where(
                t.workflow_id == self.seeded.late_workflow_id)).all()
        for execution_id in set(posted) - set(self.late_runs):
            run = self.mlflow.create_run(
                self.seeded.late_experiment_id, run_name=execution_id,
                tags={WORKFLOW_TAG: self.seeded.late_workflow_id, EXECUTION_TAG: execution_id})
            self.late_runs[execution_id] = SeededRun(run.info.run_id, run.info.experiment_id,
                                                     execution_id, run.info.start_time)

    def repair(self, request: dict, op: str = REPAIR) -> None:
        """POST the repair trigger (a new connection each time, as a periodic job would)."""
        body = self.call(op, "POST", "/api/lineage/repair", json=request)
        if body is None:
            return
        report = json.loads(body)
        if report["errors"]:
            self.fail(op, "wrong body", f"repair {request}: {report['errors']}")
            return
        self.repairs.append({"op": op, "request": request, "scanned": report["scanned"],
                             "repaired": len(report["repaired"]),
                             "unresolved": len(report["unresolved"])})

    def call(self, op: str, method: str, path: str, **kwargs) -> str | None:
        """One request; its latency, or why it failed, go to `op`'s stats."""
        sent = time.perf_counter()
        try:
            answer = httpx.request(method, self.base_url + path, timeout=REQUEST_TIMEOUT_S,
                                   headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        except httpx.HTTPError as exc:
            self.fail(op, type(exc).__name__, f"{method} {path}: {exc!r}")
            return None
        if answer.status_code != 200:
            self.fail(op, f"HTTP {answer.status_code} (expected 200)",
                      f"{method} {path}: {answer.text[:160]!r}")
            return None
        self.stats[op].latencies.append(time.perf_counter() - sent)
        return answer.text

    def fail(self, op: str, reason: str, detail: str) -> None:
        stats = self.stats[op]
        stats.errors[reason] += 1
        if len(stats.samples) < 3:
            stats.samples.append(detail)
