"""64 readers on a real `provenant serve` while two repair jobs run: no errors, each artifact once."""
from __future__ import annotations

import itertools
import json
import random
import signal
import threading
import time
from collections import Counter

import httpx
import pytest

from tests.support.cli import serve, wait_healthy
from tests.support.cli import cli_env
from tests.support.backlog import legacy_backlog
from tests.support.consistency import assert_consistent, lineage_of
from tests.support.mlflow_server import free_port

pytestmark = pytest.mark.slow

READERS, EXECUTIONS = 64, 200  # x5 = 1,000 legacy artifacts
JOBS, BATCH_SIZE = 2, 1  # one artifact per transaction: the most writes to interleave
# Long enough that hydrations finish under load and race the jobs' writes.
HYDRATION_TIMEOUT = "30"


class Readers:
    """Threads that GET artifacts in their own random order until told to stop."""

    def __init__(self, base_url: str, expected: dict[int, tuple[str, str]]) -> None:
        self.base_url, self.expected = base_url, expected
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.codes: Counter = Counter()
        self.states: Counter = Counter()
        self.problems: list[str] = []
        self.threads = [threading.Thread(target=self._read, args=(n,)) for n in range(READERS)]

    @property
    def requests(self) -> int:
        return sum(self.codes.values())

    def _read(self, seed: int) -> None:
        ids = list(self.expected)
        random.Random(seed).shuffle(ids)
        with httpx.Client(base_url=self.base_url, timeout=120) as client:
            for artifact_id in itertools.cycle(ids):
                if self.stop.is_set():
                    return
                self._check(client, artifact_id)

    def _check(self, client: httpx.Client, artifact_id: int) -> None:
        try:
            response = client.get(f"/api/artifacts/{artifact_id}")
        except httpx.HTTPError as exc:
            problem, code, state = f"{artifact_id}: {exc!r}", "transport error", None
        else:
            code, state, problem = response.status_code, None, None
            if code != 200:
                problem = f"{artifact_id}: {code} {response.text[:300]}"
            else:
                body = response.json()
                state = body["lineage"]["status"]
                if body["run_id"] is not None and (
                        (body["run_id"], body["experiment_id"]) != self.expected[artifact_id]):
                    problem = f"{artifact_id}: wrong run {body['run_id']}"
        with self.lock:
            self.codes[code] += 1
            self.states[state] += 1
            if problem:
                self.problems.append(problem)


def test_readers_and_two_repair_jobs_on_a_real_server(services, mlflow_uri, tmp_path,
                                                      fork_server):
    expected = legacy_backlog(services, mlflow_uri, tmp_path, EXECUTIONS)
    port = free_port()
    server = serve(tmp_path, "--no-mlflow-ui", "--port", str(port),
                   PROVENANT_DATABASE_URL=services.settings.database_url,
                   PROVENANT_MLFLOW_TRACKING_URI=mlflow_uri,
                   PROVENANT_REPAIR_INTERVAL_SECONDS="0",
                   PROVENANT_HYDRATION_TIMEOUT_SECONDS=HYDRATION_TIMEOUT)
    log: list[str] = []
    drain = threading.Thread(target=lambda: log.extend(server.stdout))  # a full pipe stalls it
    drain.start()
    readers = Readers(f"http://127.0.0.1:{port}", expected)
    try:
        wait_healthy(f"{readers.base_url}/api/health", server)
        for thread in readers.threads:
            thread.start()
        deadline = time.monotonic() + 120
        while not services.artifacts.repairs(limit=1):  # jobs start once reads write lineage
            assert not readers.problems and time.monotonic() < deadline, (
                readers.problems or "no read hydrated an artifact in 120 s")
            readers.stop.wait(0.05)
        before_jobs = readers.requests
        env = cli_env(services, PROVENANT_REPAIR_BATCH_SIZE=str(BATCH_SIZE))
        outputs = [(tmp_path / f"job{n}.out", tmp_path / f"job{n}.err") for n in range(JOBS)]
        jobs = [fork_server.start(["lineage", "repair", "--json"], env, out, err)
                for out, err in outputs]
        codes = [fork_server.wait(pid) for pid in jobs]
        during = readers.requests - before_jobs
    finally:
        readers.stop.set()
        for thread in readers.threads:
            thread.join()
        server.send_signal(signal.SIGINT)  # Ctrl-C; the drain thread reads what is left
        server.wait(60)
        drain.join()

    assert codes == [0] * JOBS, [err.read_text()[-2000:] for _, err in outputs]
    reports = [json.loads(out.read_text()) for out, _ in outputs]
    by_source = Counter(row.source for row in services.artifacts.repairs(limit=10_000))
    print(f"\n{services.engine.dialect.name}: {readers.requests} reads by {READERS} readers "
          f"({during} while the jobs ran): {dict(readers.codes)}, lineage {dict(readers.states)}; "
          f"jobs repaired {[len(r['repaired']) for r in reports]}, audit rows {dict(by_source)}")
    assert readers.problems == []
    assert set(readers.codes) == {200}
    assert all(r["errors"] == [] for r in reports)
    first, second = ({item["artifact_id"] for item in r["repaired"]} for r in reports)
    assert not first & second
    assert assert_consistent(services.engine) == len(expected)  # exactly one audit row each
    assert by_source["repair"] == len(first | second)
    assert lineage_of(services.engine) == expected
    assert not [line for line in log if "Traceback" in line or " 500 " in line]
