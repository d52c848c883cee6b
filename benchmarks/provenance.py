"""Provenance at scale: the upstream chain of one signal among many artifacts (#16).

Ours: one recursive query per walk (`ArtifactRepository.chain`). Baseline in the same run:
the walk it replaced, one edge query and one row query per level of the chain.
"""
from __future__ import annotations

import random
import time

import httpx

from benchmarks.backends import on_each_backend, targets_below
from benchmarks.context import BenchContext
from benchmarks.harness import BenchResult, Stopwatch, latency_summary
from benchmarks.images import chart_png
from benchmarks.servers import provenant_serve
from benchmarks.seed import (
    STEPS, artifact_rows, bulk_insert, bulk_insert_edges, chain_edges, legacy_execution_id)
from provenant.adapters.blobs import key_for
from provenant.domain.provenance import sha256_hex
from provenant.service.provenance import MAX_DEPTH, provenance, walk
from provenant.store.repository import ArtifactRepository

NAME = "provenance"
TITLE = "6. Provenance: the chain of one signal among many artifacts"
P99_TARGET_MS = 10.0
HTTP_CASE = "GET /api/artifacts/{id}/provenance (provenant serve, 1 worker)"


def run(ctx: BenchContext) -> BenchResult:
    count = ctx.size(50_000, 1_000_000, tiny=400)
    samples = ctx.size(1000, 3000, tiny=20)
    result = BenchResult(NAME, TITLE, params={"artifacts": count, "samples_per_case": samples})
    worst = on_each_backend(ctx, NAME, result, lambda backend, database_url:
                            _measure(ctx, backend, database_url, count, samples, result))
    targets_below(result, worst, "provenance p99", f"< {P99_TARGET_MS:.0f} ms", P99_TARGET_MS,
                  "p99 {:.2f} ms (HTTP GET)")
    result.notes.append(
        "Each sample picks a random signal (4 nodes: signal, LLM analysis, two charts, each "
        "hashed, the charts' image read from the blob store and hashed too); the cases "
        "take turns sample by sample, so load on the machine hits them alike. The HTTP case "
        "is `provenant serve` (one worker, as it runs by default, access log on) on the same "
        "database, asked by one keep-alive client in this process, one request at a time.")
    return result


def _seed(engine, count: int, chart_image_key: str) -> int:
    """Bulk-load `count` hashed, workflow-shaped artifacts and their edges; how many edges."""
    bulk_insert(engine, artifact_rows(count, workflow_id="ibkr_trading_signal_workflow",
                                      execution_of=lambda i: legacy_execution_id(i // STEPS),
                                      chart_image_key=chart_image_key, hashed=True))
    return bulk_insert_edges(engine, chain_edges(count))


def _measure(ctx: BenchContext, backend: str, database_url: str, count: int, samples: int,
             result: BenchResult) -> float:
    """Seed, then time walks up from random signals, ours and the baseline in turns; the
    HTTP GET's p99 in ms."""
    services = ctx.services(f"{NAME}-{backend}", database_url=database_url,
                            tracking_uri="http://127.0.0.1:9")  # never called: no tracking
    try:
        image = chart_png()
        image_key = key_for(sha256_hex(image), "image/png")
        services.blobs.put(image_key, image, "image/png")  # every chart shows it
        with Stopwatch() as seeding:
            edges = _seed(services.engine, count, image_key)
        result.notes.append(f"{backend}: seeded {count:,} artifacts and {edges:,} edges "
                            f"in {seeding.seconds:.1f} s")
        repository, blobs = services.artifacts, services.blobs
        signals = list(range(STEPS, count + 1, STEPS))
        chain = provenance(repository, blobs, signals[-1])
        if not chain.ok or {n.verification for n in chain.nodes} != {"verified"}:
            raise AssertionError(f"the seeded chain does not verify: {chain}")
        if _shape(walk(repository, signals[-1])) != _shape(_walk_per_level(repository,
                                                                          signals[-1])):
            raise AssertionError("the baseline walk finds another chain")
        result.add(f"{backend}: chain of one signal", nodes=len(chain.nodes),
                   edges=len(chain.edges))
        settings = services.settings
        env = {"PROVENANT_HOME": str(settings.home), "PROVENANT_DATABASE_URL": database_url,
               "PROVENANT_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
               "PROVENANT_REPAIR_INTERVAL_SECONDS": "0"}
        with (provenant_serve(env, ctx.workdir / NAME / f"api-{backend}.log") as api,
              httpx.Client(base_url=api, timeout=30) as client):
            def get(artifact_id: int) -> None:
                answer = client.get(f"/api/artifacts/{artifact_id}/provenance")
                if answer.status_code != 200 or len(answer.json()["nodes"]) != 4:
                    raise AssertionError(f"{HTTP_CASE}: {answer.status_code} {answer.text}")

            timed = _in_turns({
                "walk, one recursive query": lambda i: walk(repository, i),
                "walk, baseline: two queries per level": lambda i: _walk_per_level(
                    repository, i),
                "service call (walk + hashes)": lambda i: provenance(repository, blobs, i),
                HTTP_CASE: get}, signals, samples)
        for case, seconds in timed.items():
            result.add(f"{backend}: {case}", **latency_summary(seconds))
        return latency_summary(timed[HTTP_CASE])["p99_ms"]
    finally:
        services.close()


def _in_turns(cases: dict, ids: list[int], samples: int) -> dict[str, list[float]]:
    """Per-call seconds of every case on the same random ids, case after case per id."""
    rng = random.Random(16)
    timed: dict[str, list[float]] = {case: [] for case in cases}
    for n in range(samples + 3):  # the first 3 rounds warm caches and are not kept
        artifact_id = rng.choice(ids)
        for case, fn in cases.items():
            start = time.perf_counter()
            fn(artifact_id)
            if n >= 3:
                timed[case].append(time.perf_counter() - start)
    return timed


def _shape(walked) -> tuple:
    found, edges, truncated = walked
    return ([(a.id, depth) for a, depth in found],
            sorted((e.artifact_id, e.input_id) for e in edges), truncated)


def _walk_per_level(repository: ArtifactRepository, artifact_id: int):
    """The walk before one recursive query: per level, the edges, then the rows found."""
    root = repository.get(artifact_id)
    found, edges, seen = [(root, 0)], [], {artifact_id}
    frontier, depth = [artifact_id], 0
    while frontier and depth < MAX_DEPTH:
        depth += 1
        level = repository.edges(frontier, "up")
        edges.extend(level)
        frontier = [i for i in dict.fromkeys(e.input_id for e in level) if i not in seen]
        seen.update(frontier)
        found.extend((a, depth) for a in repository.get_many(frontier))
    return found, edges, bool(frontier)
