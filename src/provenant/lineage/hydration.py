"""Hydration on read: fill in an artifact's missing lineage, bounded in time, written once."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from prometheus_client import Counter, Histogram

from provenant.adapters.tracking import TrackingUnavailable
from provenant.domain.artifacts import Artifact
from provenant.domain.lineage import Lineage, LineageStatus
from provenant.lineage.audit import record_repairs
from provenant.lineage.resolve import ExecutionKey, Resolver
from provenant.store.outages import describe_database_error
from provenant.store.repository import ArtifactRepository

log = logging.getLogger("provenant.lineage")

HYDRATIONS = Counter("provenant_hydrations", "Reads that tried to fill in missing lineage",
                     ["outcome"])
TRACKING_SECONDS = Histogram("provenant_tracking_lookup_seconds",
                             "Duration of one MLflow lookup for an execution's run")
TRACKING_FAILURES = Counter("provenant_tracking_failures",
                            "MLflow lookups that gave no answer", ["reason"])

Key = ExecutionKey  # one lookup serves all the artifacts of an execution
Outcome = Lineage | LineageStatus  # found, or pending (no run yet) / unavailable
_MAX_REMEMBERED = 10_000
_MIN_LOCK_WAIT = 0.25  # seconds a hydrating read waits for another writer's lock, at least


def _key(artifact: Artifact) -> Key:
    return artifact.workflow_id, artifact.execution_id or ""


def _needs_lookup(artifact: Artifact) -> bool:
    return artifact.run_id is None and bool(artifact.execution_id)


class Hydrator:
    """Looks up missing lineage in MLflow on read; never raises, never waits long.

    Each lookup runs in its own daemon thread (a stuck tracker cannot block exit),
    one per execution and at most `max_lookups` at once; a read waits at most
    `timeout_seconds`, for a free slot and its lookup together. A miss is
    remembered for `miss_ttl_seconds` only, so an artifact read before its run
    exists is repaired on a later read.
    """

    def __init__(self, resolver: Resolver, repository: ArtifactRepository, *,
                 timeout_seconds: float = 2.0, miss_ttl_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, max_lookups: int = 8) -> None:
        self.resolver = resolver
        self.repository = repository
        self.timeout_seconds = timeout_seconds
        self.miss_ttl_seconds = miss_ttl_seconds
        self._clock = clock
        self._max_lookups = max_lookups
        self._lock = threading.Condition()  # guards the maps; signals a free lookup slot
        self._misses: dict[Key, float] = {}
        self._inflight: dict[Key, Future] = {}

    needs_lookup = staticmethod(_needs_lookup)  # False: hydrate() would answer from the row

    def hydrate(self, artifact: Artifact) -> tuple[Artifact, LineageStatus]:
        """The artifact, with its lineage filled in when MLflow knows it, and this read's status."""
        return self.hydrate_many([artifact])[0]

    def hydrate_many(self, artifacts: Sequence[Artifact]) -> list[tuple[Artifact, LineageStatus]]:
        """Hydrate several artifacts: one lookup per execution, all under one deadline."""
        try:
            return self._hydrate_many(artifacts)
        except Exception:  # the read must answer even if hydration itself breaks
            log.exception("lineage hydration failed")
            return [(a, LineageStatus.unavailable if _needs_lookup(a) else a.lineage_status)
                    for a in artifacts]

    def lineage_of(self, key: Key) -> Lineage | None:
        """An execution's run by the resolver, within one read's deadline (None: not known)."""
        try:
            deadline = self._clock() + self.timeout_seconds
            outcome = self._wait(self._start(key, deadline), deadline)
        except Exception:  # the read must answer even if the lookup itself breaks
            log.exception("lineage lookup failed")
            return None
        return outcome if isinstance(outcome, Lineage) else None

    def _hydrate_many(self, artifacts: Sequence[Artifact]) -> list[tuple[Artifact, LineageStatus]]:
        keys = dict.fromkeys(_key(a) for a in artifacts if _needs_lookup(a))
        deadline = self._clock() + self.timeout_seconds
        started = {key: self._start(key, deadline) for key in keys}
        outcomes = {key: self._wait(value, deadline) for key, value in started.items()}
        fresh = self._persist([(a.id, outcomes[_key(a)]) for a in artifacts
                               if _needs_lookup(a) and isinstance(outcomes[_key(a)], Lineage)],
                              deadline)
        results = []
        for artifact in artifacts:
            if not _needs_lookup(artifact):
                results.append((artifact, artifact.lineage_status))
                continue
            outcome = outcomes[_key(artifact)]
            if artifact.id in fresh:
                artifact = fresh[artifact.id]
                status = artifact.lineage_status
            else:  # no run yet, tracker unavailable, or found but not written
                status = outcome if isinstance(outcome, LineageStatus) else LineageStatus.pending
            HYDRATIONS.labels(status.value).inc()
            results.append((artifact, status))
        return results

    def _start(self, key: Key, deadline: float) -> Future | LineageStatus:
        """A running lookup for the key (joined if one is in flight), or an answer without one.

        With `max_lookups` already running, wait for a free slot until the deadline: a
        stuck tracker costs waiting reads, never more threads, and a busy one is not
        mistaken for an unavailable one.
        """
        # Real time for the wait itself: the injected clock only decides what is remembered.
        give_up = time.monotonic() + max(0.0, deadline - self._clock())
        with self._lock:
            while True:
                expires = self._misses.get(key)
                if expires is not None and expires > self._clock():
                    return LineageStatus.pending
                self._misses.pop(key, None)
                if key in self._inflight:
                    return self._inflight[key]
                if len(self._inflight) < self._max_lookups:
                    break
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    TRACKING_FAILURES.labels("busy").inc()
                    return LineageStatus.unavailable
                self._lock.wait(remaining)
            future: Future = Future()
            self._inflight[key] = future
        threading.Thread(target=self._lookup, args=(key, future), daemon=True,
                         name="provenant-hydrate").start()
        return future

    def _wait(self, started: Future | LineageStatus, deadline: float) -> Outcome:
        if isinstance(started, LineageStatus):
            return started
        try:
            found = started.result(timeout=max(0.0, deadline - self._clock()))
        except FutureTimeout:
            TRACKING_FAILURES.labels("timeout").inc()
            return LineageStatus.unavailable
        except Exception:  # counted and logged by the lookup thread
            return LineageStatus.unavailable
        return found or LineageStatus.pending

    def _lookup(self, key: Key, future: Future) -> None:
        begin = time.perf_counter()
        try:
            found = self.resolver.resolve_one(key)
        except Exception as exc:
            reason = "unavailable" if isinstance(exc, TrackingUnavailable) else "error"
            TRACKING_FAILURES.labels(reason).inc()
            log.warning("MLflow lookup for execution %r failed: %s", key[1], exc)
            future.set_exception(exc)
        else:
            if found is None:
                self._remember_miss(key)
            future.set_result(found)
        finally:
            TRACKING_SECONDS.observe(time.perf_counter() - begin)
            with self._lock:
                self._inflight.pop(key, None)
                self._lock.notify_all()  # a slot is free for reads waiting on one

    def _remember_miss(self, key: Key) -> None:
        ttl = self.miss_ttl_seconds
        if ttl <= 0:
            return
        with self._lock:
            now = self._clock()
            if len(self._misses) >= _MAX_REMEMBERED:
                self._misses = {k: t for k, t in self._misses.items() if t > now}
            self._misses[key] = now + ttl

    def _persist(self, updates: list[tuple[int, Lineage]],
                 deadline: float) -> dict[int, Artifact]:
        """Write found lineage (conditionally, audited) and re-read the rows as stored.

        The wait for another writer's lock is bounded by what is left of the read's
        deadline (at least `_MIN_LOCK_WAIT`: a write itself takes milliseconds); a read
        that cannot write answers without it, and a later read or the repair job writes.
        """
        if not updates:
            return {}
        repository = self.repository
        ids = [i for i, _ in updates]
        try:
            record_repairs(repository, updates, "hydrate",
                           lock_timeout=max(_MIN_LOCK_WAIT, deadline - self._clock()))
            return {a.id: a for a in repository.get_many(ids)}
        except Exception as exc:
            if (outage := describe_database_error(exc)) is None:
                log.exception("could not store hydrated lineage for %s", ids)
            else:
                log.warning("could not store hydrated lineage for %s: %s", ids, outage)
            return {}

