"""Verify at scale: content hashes and run manifests of many artifacts (#16).

Ours: `lineage verify` (`verify_lineage`): runs fetched 100 ids per search; each run's
manifest comes inline in those searches (the `provenant.manifest` tag the workflow writes), so
no file is read. `--deep` (also what a run logged before the inline tag costs): one manifest
file request per run. Baseline in the same run: the same checks artifact by artifact, one run
fetch and one manifest read (`run_file`) per artifact.
"""
from __future__ import annotations

import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, Stopwatch
from benchmarks.images import chart_png
from benchmarks.mlflow_seed import seed_runs
from benchmarks.seed import (
    COLUMNS, STEPS, artifact_rows, bulk_insert, bulk_insert_edges, chain_edges)
from provenant.adapters.blobs import key_for
from provenant.adapters.mlflow_tracker import MlflowTracker
from provenant.bootstrap import Services
from provenant.domain.provenance import (
    RUN_MANIFEST_PATH, Edge, manifest_tags, run_manifest, sha256_hex)
from provenant.lineage.integrity import content_problems, read_run_manifest
from provenant.lineage.verify import run_problem, verify_lineage
from provenant.testing.proxy import CountingProxy

NAME = "verify"
TITLE = "7. Verify: content hashes and run manifests, batched vs per artifact"
WORKFLOW = "ibkr_trading_signal_workflow"
RATE_TARGET = 5000.0  # artifacts/s


def run(ctx: BenchContext) -> BenchResult:
    count = ctx.size(10_000, 100_000, tiny=200)
    budget = ctx.size(10.0, 60.0, tiny=2.0)
    executions = count // STEPS
    result = BenchResult(NAME, TITLE, params={
        "artifacts": count, "runs": executions, "artifacts_per_run": STEPS,
        "baseline_budget_s": budget, "database": "sqlite"})
    server = ctx.mlflow_server()
    with CountingProxy(server.url) as proxy:
        services = ctx.services(NAME, tracking_uri=proxy.url)
        with Stopwatch() as seeding:
            _seed(services, server, executions)
        result.notes.append(f"seeded {count:,} hashed artifacts, {executions:,} runs and their "
                            f"manifests in {seeding.seconds:.1f} s")
        proxy.reset()
        proxied = _verify(services.artifacts, services.tracker, services.blobs, count)
        calls = proxy.count
        direct = _verify(services.artifacts, MlflowTracker(server.url), services.blobs, count)
        deep = _verify(services.artifacts, MlflowTracker(server.url), services.blobs, count,
                       deep=True)
        proxy.reset()
        baseline = _one_by_one(services, budget)
        baseline_calls = proxy.count
    rate = count / direct.seconds
    for case, measured in (("verify_lineage (direct to mlflow server)", direct),
                           ("verify_lineage --deep (direct; every manifest file)", deep)):
        result.add(case, artifacts=count, seconds=measured.seconds,
                   artifacts_per_s=count / measured.seconds, runs=measured.runs,
                   manifest_files=measured.files)
        local = measured.seconds - measured.runs_by_id - measured.run_files
        phases = [("  phase: run searches, 100 ids each (MLflow)", measured.runs_by_id),
                  ("  phase: rows, edges, hashes, images, comparisons (local)", local)]
        if measured.files:
            phases.insert(1, ("  phase: manifest reads, 1 per run, 4 at a time (MLflow)",
                              measured.run_files))
        for phase, seconds in phases:
            result.add(phase, seconds=seconds, artifacts_per_s=count / seconds)
    result.add("verify_lineage (through the counting proxy)", artifacts=count,
               seconds=proxied.seconds, artifacts_per_s=count / proxied.seconds,
               runs=proxied.runs, http_requests=calls, requests_per_run=calls / executions,
               requests_per_artifact=calls / count, manifest_files=proxied.files)
    result.add("one by one: run + manifest per artifact (through the proxy)",
               artifacts=baseline.done, seconds=baseline.seconds,
               artifacts_per_s=baseline.done / baseline.seconds, http_requests=baseline_calls,
               requests_per_artifact=baseline_calls / max(baseline.done, 1))
    speedup = (count / proxied.seconds) / (baseline.done / baseline.seconds)
    result.add("ratio (ours / one by one, both through the proxy)", artifacts_per_s=speedup)
    result.target("verify rate", f">= {RATE_TARGET:,.0f} artifacts/s", rate >= RATE_TARGET,
                  f"{rate:,.0f} artifacts/s ({count:,} artifacts in {direct.seconds:.1f} s; "
                  f"{speedup:.0f}x one by one; --deep {count / deep.seconds:,.0f} "
                  "artifacts/s)")
    pages = -(-executions // 100)
    result.target("verify tracking calls", "grow with runs/pages, not artifacts",
                  calls <= executions + 2 * pages + 5,
                  f"{calls:,} HTTP requests for {count:,} artifacts / {executions:,} runs "
                  f"(one by one: {baseline_calls / max(baseline.done, 1):.1f} per artifact)")
    result.notes.append(
        "Every artifact is hashed (charts share one stored PNG, read and hashed per chart); "
        f"each run's `{RUN_MANIFEST_PATH}` is a real file in the server's artifact store "
        "(uploaded through its API) whose SHA-256 is the run's tag, listing its "
        f"{STEPS} artifacts with their hashes and inputs; the same bytes are the run's "
        "`provenant.manifest` tag, as the workflow writes them. `--deep` ignores that tag and "
        "reads every file (what a run logged before the tag costs). All verifications must find "
        "nothing wrong. The rate is the run straight to the server; HTTP requests are counted "
        "by a proxy in a second, identical pass (the proxy, in this process, opens a "
        "connection per request and slows every call). The baseline is time-boxed and "
        "measured over what it did in its budget.")
    return result


def _seed(services: Services, server, executions: int) -> None:
    """Hashed rows with lineage and edges; one cloned run per execution, tagged with its
    manifest's hash and the manifest itself, and the manifest uploaded as a run file."""
    image = chart_png()
    image_key = key_for(sha256_hex(image), "image/png")
    services.blobs.put(image_key, image, "image/png")
    execution_ids = [f"verify-{n}" for n in range(executions)]
    count = executions * STEPS
    rows = [dict(zip(COLUMNS, row)) for row in artifact_rows(
        count, workflow_id=WORKFLOW, execution_of=lambda i: execution_ids[i // STEPS],
        chart_image_key=image_key, hashed=True)]
    edges = [Edge(artifact_id=a, input_id=i, inferred=f) for a, i, f in chain_edges(count)]
    per_run = len(edges) // executions  # chain_edges: the same edges for every execution
    manifests = {e: run_manifest([SimpleNamespace(**r) for r in rows[n * STEPS:(n + 1) * STEPS]],
                                 edges[n * per_run:(n + 1) * per_run])
                 for n, e in enumerate(execution_ids)}
    runs = seed_runs(MlflowClient(server.url), server.backend_uri,
                     f"bench-verify-{uuid.uuid4().hex[:8]}", WORKFLOW, execution_ids,
                     tags_of=lambda e: manifest_tags(manifests[e]))
    _upload(server.url, {runs[e].artifact_uri: manifests[e] for e in execution_ids})
    for row in rows:
        run = runs[row["execution_id"]]
        row.update(run_id=run.run_id, experiment_id=run.experiment_id)
    bulk_insert(services.engine, (tuple(r[c] for c in COLUMNS) for r in rows))
    bulk_insert_edges(services.engine, ((e.artifact_id, e.input_id, e.inferred) for e in edges))


def _upload(tracking_uri: str, manifests: dict[str, bytes]) -> None:
    """Each manifest into its run's artifact location, through the server's API."""
    def upload(item: tuple[str, bytes]) -> None:
        artifact_uri, data = item
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(RUN_MANIFEST_PATH).name
            path.write_bytes(data)
            get_artifact_repository(artifact_uri, tracking_uri=tracking_uri).log_artifact(
                str(path), str(Path(RUN_MANIFEST_PATH).parent))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(upload, manifests.items()))


class _Waits:
    """A tracker that adds up the wall time spent in its run searches and file reads, and
    counts the files read."""

    def __init__(self, tracker) -> None:
        self.tracker, self.waits = tracker, {"runs_by_id": 0.0, "run_files": 0.0}
        self.files = 0

    def __getattr__(self, name: str):
        attribute = getattr(self.tracker, name)
        if name not in self.waits:
            return attribute

        def timed(*args, **kwargs):
            if name == "run_files":
                self.files += len(args[0])
            start = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.waits[name] += time.perf_counter() - start
        return timed


def _verify(repository, tracker, blobs, count: int, deep: bool = False) -> SimpleNamespace:
    waiting = _Waits(tracker)
    with Stopwatch() as clock:
        report = verify_lineage(repository, waiting, blobs, deep)
    if not report.ok or report.checked != count:
        raise AssertionError(f"verify found problems in sound data: checked {report.checked}, "
                             f"{report.mismatches[:3]} {report.errors}")
    return SimpleNamespace(seconds=clock.seconds, runs=report.runs, files=waiting.files,
                           **waiting.waits)


def _one_by_one(services: Services, budget_s: float) -> SimpleNamespace:
    """The same checks per artifact: fetch its run, read the run's manifest (inline in the
    run when it carries it, as verify does), compare."""
    repository, tracker, blobs = services.artifacts, services.tracker, services.blobs
    done, cursor, start = 0, None, time.perf_counter()
    deadline = start + budget_s
    while time.perf_counter() < deadline:
        page, cursor = repository.list(limit=100, cursor=cursor)
        for artifact in page:
            run = tracker.get_run(artifact.run_id)
            problems = [p for p in (run_problem(artifact, run),) if p]
            problems += content_problems(artifact, blobs)
            manifest = read_run_manifest(tracker, run)
            entry = manifest.get(artifact.id) if isinstance(manifest, dict) else None
            if (problems or entry is None or entry["content_sha256"] != artifact.content_sha256
                    or entry["inputs"] != sorted(repository.inputs_of(artifact.id))):
                raise AssertionError(f"artifact {artifact.id}: {problems or manifest}")
            done += 1
            if time.perf_counter() >= deadline:
                break
        if cursor is None:
            break
    return SimpleNamespace(done=done, seconds=time.perf_counter() - start)
