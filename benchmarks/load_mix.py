"""The operation mix of `benchmarks.load`: closed-loop clients over raw keep-alive HTTP/1.1.

Each client is one connection running a weighted mix of reads and writes; a ticker POSTs
the repair trigger. Every answer is checked (status, and a cheap look at the body), so an
error is any unexpected status, a wrong body, a connection error or a timeout.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from benchmarks.images import chart_png, variant
from benchmarks.loadgen import read_response
from benchmarks.mlflow_seed import SeededRun
from provenant.adapters.mlflow_tracker import EXECUTION_TAG, WORKFLOW_TAG

# Operation -> weight in each client's mix; the repair trigger runs on its own ticker.
MIX = {"list_page": 14, "get_persisted": 14, "get_legacy": 10, "get_image": 8,
       "get_image_304": 3, "get_execution": 3, "post_artifact": 10, "put_image": 5,
       "list_repairs": 4, "ui_list": 4, "ui_detail": 4, "ui_drawer": 3}
REPAIR = "repair_trigger"
OPERATIONS = (*MIX, REPAIR)
REQUEST_TIMEOUT_S = 30.0
PNG = b"\x89PNG\r\n\x1a\n"
RIBBON = b'data-testid="workflow-context-ribbon"'
# Posts cycle through: a chart of a "late" execution (no MLflow run yet: stored pending,
# its image uploaded by put_image), a signal with explicit run ids, an LLM analysis whose
# run the server looks up at store time.
POST_KINDS = ("chart", "signal", "chart", "llm")
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
    executions: list[str]  # execution ids of the persisted artifacts
    runs: dict[str, SeededRun]  # execution id -> its run
    image_sha: dict[int, str]  # chart id -> sha256 of its image (the ETag)
    rows: int


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # reason -> count
    samples: list[str] = field(default_factory=list)  # the first few, for the report


class Connection:
    """One keep-alive connection, reopened after an error or a `Connection: close`."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        await self.writer.drain()
        status, keep_alive, body = await read_response(self.reader)
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Client:
    rng: random.Random
    conn: Connection
    list_filter: str = ""
    cursor: str | None = None


class Workload:
    """Shared pools of ids and per-operation results; asyncio keeps it single-threaded."""

    def __init__(self, base_url: str, seeded: Seeded, token: str, mlflow_client) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.seeded, self.token, self.mlflow = seeded, token, mlflow_client
        self.stats = {op: OpStats() for op in OPERATIONS}
        self.read_ids = list(seeded.persisted_ids)  # grows with posted, persisted artifacts
        self.image_sha = dict(seeded.image_sha)  # grows with uploads
        self.image_ids = list(self.image_sha)
        self.legacy_status: Counter = Counter()  # lineage status of each get_legacy answer
        self.posted: dict[int, tuple[str, str]] = {}  # id -> (type, name)
        self.posted_kinds: Counter = Counter()
        self.uploaded: dict[int, str] = {}  # chart id -> sha256 of the uploaded image
        self.awaiting_image: deque[int] = deque()
        self.late: dict[str, int] = {}  # late execution id -> artifact id, run not made yet
        self.late_runs: dict[str, SeededRun] = {}
        self.repairs: list[dict] = []
        self.metrics: dict[str, float] = {}  # the server's METRICS after the load
        self._posts = 0

    # -- driving -------------------------------------------------------------------------

    async def run(self, seconds: float, clients: int, repair_every: float) -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(self._repair_ticker(deadline, repair_every),
                             *(self._client(n, deadline) for n in range(clients)))

    async def _client(self, n: int, deadline: float) -> None:
        client = Client(random.Random(n), Connection(self.host, self.port))
        ops, weights = list(MIX), list(MIX.values())
        while time.perf_counter() < deadline:
            op = client.rng.choices(ops, weights)[0]
            await getattr(self, op)(client)
        client.conn.close()

    async def _repair_ticker(self, deadline: float, every: float) -> None:
        """Alternate a dry run over the whole backlog with a real repair of the late ones.

        A new connection each time, as a periodic job would: uvicorn closes keep-alive
        connections idle for 5 s, and a request sent as it does so gets no answer.
        """
        tick, start = 0, time.perf_counter()
        while time.perf_counter() < deadline:
            conn = Connection(self.host, self.port)
            if tick % 2:
                await self.create_late_runs()
                await self.repair(conn, {"workflow_id": self.seeded.late_workflow_id})
            else:
                await self.repair(conn, {"dry_run": True})
            conn.close()
            tick += 1
            await asyncio.sleep(max(0.0, min(start + tick * every, deadline)
                                    - time.perf_counter()))

    async def settle(self) -> None:
        """After the load: every late artifact's run exists, and one repair links them."""
        while self.late:
            await self.create_late_runs()
        conn = Connection(self.host, self.port)
        await self.repair(conn, {"workflow_id": self.seeded.late_workflow_id}, op="settle")
        metrics = await self.call("settle", conn, "GET", "/metrics")
        conn.close()
        self.metrics = {line.split(" ")[0]: float(line.split(" ")[1])
                        for line in (metrics or b"").decode().splitlines()
                        if line.startswith(METRICS) and "_created" not in line}

    async def create_late_runs(self, at_most: int = 200) -> None:
        """Make the MLflow runs of late executions posted so far (what a late run looks like)."""
        batch = list(self.late)[:at_most]
        for execution_id in batch:
            del self.late[execution_id]
        if batch:
            self.late_runs.update(await asyncio.to_thread(self._create_runs, batch))

    def _create_runs(self, execution_ids: list[str]) -> dict[str, SeededRun]:
        made = {}
        for execution_id in execution_ids:
            run = self.mlflow.create_run(
                self.seeded.late_experiment_id, run_name=execution_id,
                tags={WORKFLOW_TAG: self.seeded.late_workflow_id, EXECUTION_TAG: execution_id})
            made[execution_id] = SeededRun(run.info.run_id, run.info.experiment_id,
                                           execution_id, run.info.start_time)
        return made

    # -- one request ---------------------------------------------------------------------

    async def call(self, op: str, conn: Connection, method: str, target: str, *,
                   body: bytes = b"", content_type: str = "", headers: dict | None = None,
                   expect: int = 200) -> bytes | None:
        """Send one request; its latency, or the reason it failed, go to `op`'s stats."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if method in ("POST", "PUT"):
            lines += [f"Authorization: Bearer {self.token}",
                      f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        stats = self.stats.setdefault(op, OpStats())
        sent = time.perf_counter()
        try:
            status, answer = await asyncio.wait_for(conn.exchange(raw), REQUEST_TIMEOUT_S)
        except (OSError, EOFError, asyncio.LimitOverrunError, TimeoutError) as exc:
            conn.close()
            self.fail(op, type(exc).__name__, f"{method} {target}: {exc!r}")
            return None
        if status != expect:
            self.fail(op, f"HTTP {status} (expected {expect})",
                      f"{method} {target}: {answer[:160]!r}")
            return None
        stats.latencies.append(time.perf_counter() - sent)
        return answer

    def fail(self, op: str, reason: str, detail: str) -> None:
        stats = self.stats.setdefault(op, OpStats())
        stats.errors[reason] += 1
        if len(stats.samples) < 3:
            stats.samples.append(detail)

    def check(self, op: str, holds: bool, detail: str) -> bool:
        """A body that is not what it should be is an error of its operation."""
        if not holds:
            self.fail(op, "wrong body", detail)
        return holds

    # -- the operations ------------------------------------------------------------------

    async def list_page(self, c: Client) -> None:
        if c.cursor is None:  # a new walk, with a filter or none
            c.list_filter = c.rng.choice(["", "&symbol=TSLA", "&type=chart",
                                          f"&workflow_id={self.seeded.workflow_id}"])
        cursor = f"&cursor={quote(c.cursor)}" if c.cursor else ""
        body = await self.call("list_page", c.conn, "GET",
                               f"/api/artifacts?limit=50{c.list_filter}{cursor}")
        if body is not None:
            page = json.loads(body)
            self.check("list_page", isinstance(page["items"], list), "no items")
            c.cursor = page["next_cursor"]

    async def get_persisted(self, c: Client) -> None:
        artifact_id = c.rng.choice(self.read_ids)
        body = await self.call("get_persisted", c.conn, "GET", f"/api/artifacts/{artifact_id}")
        if body is not None:
            got = json.loads(body)
            self.check("get_persisted", got["id"] == artifact_id and
                       got["lineage"]["status"] == "persisted", f"{artifact_id}: {got['lineage']}")

    async def get_legacy(self, c: Client) -> None:
        artifact_id = c.rng.choice(self.seeded.legacy_ids)
        body = await self.call("get_legacy", c.conn, "GET", f"/api/artifacts/{artifact_id}")
        if body is None:
            return
        got = json.loads(body)
        status = got["lineage"]["status"]
        self.legacy_status[status] += 1
        run = self.seeded.runs[got["execution_id"]]
        linked = status != "repaired" or got["run_id"] == run.run_id
        self.check("get_legacy", got["id"] == artifact_id and linked,
                   f"{artifact_id}: run {got['run_id']}, expected {run.run_id}")

    async def get_image(self, c: Client) -> None:
        artifact_id = c.rng.choice(self.image_ids)
        body = await self.call("get_image", c.conn, "GET", f"/api/artifacts/{artifact_id}/image")
        if body is not None:
            self.check("get_image", body.startswith(PNG) and
                       hashlib.sha256(body).hexdigest() == self.image_sha[artifact_id],
                       f"image of {artifact_id} is not the one stored")

    async def get_image_304(self, c: Client) -> None:
        artifact_id = c.rng.choice(self.image_ids)
        await self.call("get_image_304", c.conn, "GET", f"/api/artifacts/{artifact_id}/image",
                        headers={"If-None-Match": f'"{self.image_sha[artifact_id]}"'},
                        expect=304)

    async def get_execution(self, c: Client) -> None:
        execution_id = c.rng.choice(self.seeded.executions)
        body = await self.call("get_execution", c.conn, "GET",
                               f"/api/executions/{quote(execution_id, safe='')}")
        if body is not None:
            got = json.loads(body)
            self.check("get_execution", bool(got["artifacts"]) and got["run"]["run_id"]
                       == self.seeded.runs[execution_id].run_id, f"execution {execution_id}")

    async def post_artifact(self, c: Client) -> None:
        kind = POST_KINDS[self._posts % len(POST_KINDS)]
        self._posts += 1
        execution_id = c.rng.choice(self.seeded.executions)
        run = self.seeded.runs[execution_id]
        name = f"load {kind} {uuid.uuid4().hex[:12]}"
        new = {"type": kind, "name": name, "symbol": c.rng.choice(["TSLA", "MSFT", "NVDA"]),
               "workflow_id": self.seeded.workflow_id, "execution_id": execution_id,
               "step_name": f"load_{kind}"}
        if kind == "chart":
            execution_id = f"late-{uuid.uuid4().hex}"
            new.update(workflow_id=self.seeded.late_workflow_id, execution_id=execution_id,
                       payload={"chart_type": "daily"})
        elif kind == "signal":
            new.update(run_id=run.run_id, experiment_id=run.experiment_id,
                       payload={"action": "BUY", "confidence": 0.72})
        else:
            new["payload"] = {"prompt": f"Analyse {name}", "response": "Momentum is positive.",
                              "model_name": "gpt-4o-mini"}
        body = await self.call("post_artifact", c.conn, "POST", "/api/artifacts",
                               body=json.dumps(new).encode(), content_type="application/json",
                               expect=201)
        if body is None:
            return
        got = json.loads(body)
        self.posted[got["id"]] = (kind, name)
        self.posted_kinds[kind] += 1
        if kind == "chart":
            self.check("post_artifact", got["lineage"]["status"] == "pending",
                       f"late chart {got['id']}: {got['lineage']}")
            self.awaiting_image.append(got["id"])
            self.late[execution_id] = got["id"]
        elif self.check("post_artifact", got["run_id"] == run.run_id and
                        got["lineage"]["status"] == "persisted", f"{kind} {got['id']}: {got}"):
            self.read_ids.append(got["id"])

    async def put_image(self, c: Client) -> None:
        if not self.awaiting_image:  # every posted chart has its image: post another
            return await self.post_artifact(c)
        artifact_id = self.awaiting_image.popleft()
        data = variant(chart_png(), artifact_id)
        body = await self.call("put_image", c.conn, "PUT", f"/api/artifacts/{artifact_id}/image",
                               body=data, content_type="image/png")
        if body is not None and self.check("put_image", json.loads(body)["image_url"] is not None,
                                           f"chart {artifact_id} has no image_url"):
            self.uploaded[artifact_id] = self.image_sha[artifact_id] = \
                hashlib.sha256(data).hexdigest()
            self.image_ids.append(artifact_id)

    async def list_repairs(self, c: Client) -> None:
        one = c.rng.random() < 0.5
        target = (f"/api/lineage/repairs?artifact_id={c.rng.choice(self.seeded.legacy_ids)}"
                  if one else "/api/lineage/repairs?limit=50")
        body = await self.call("list_repairs", c.conn, "GET", target)
        if body is not None:
            self.check("list_repairs", isinstance(json.loads(body)["items"], list), target)

    async def ui_list(self, c: Client) -> None:
        query = c.rng.choice(["", "?symbol=TSLA", "?type=chart"])
        body = await self.call("ui_list", c.conn, "GET", f"/artifacts{query}")
        if body is not None:
            self.check("ui_list", b"</html>" in body, f"/artifacts{query}")

    async def ui_detail(self, c: Client) -> None:
        await self._ui_drawer_page(c, "ui_detail", "")

    async def ui_drawer(self, c: Client) -> None:
        await self._ui_drawer_page(c, "ui_drawer", "/drawer")

    async def _ui_drawer_page(self, c: Client, op: str, suffix: str) -> None:
        pool = self.read_ids if c.rng.random() < 0.5 else self.seeded.legacy_ids
        target = f"/artifacts/{c.rng.choice(pool)}{suffix}"
        body = await self.call(op, c.conn, "GET", target)
        if body is not None:
            self.check(op, RIBBON in body, f"{target} has no workflow context ribbon")

    async def repair(self, conn: Connection, request: dict, op: str = REPAIR) -> None:
        body = await self.call(op, conn, "POST", "/api/lineage/repair",
                               body=json.dumps(request).encode(), content_type="application/json")
        if body is None:
            return
        report = json.loads(body)
        if self.check(op, not report["errors"], f"repair {request}: {report['errors']}"):
            self.repairs.append({"op": op, "request": request, "scanned": report["scanned"],
                                 "repaired": len(report["repaired"]),
                                 "unresolved": len(report["unresolved"])})
