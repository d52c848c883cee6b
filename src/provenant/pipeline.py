"""Bulk work: started ahead of its consumer, results taken in order (the one pattern behind
the import's page workers and read-ahead and verify's run searches), and collected less often."""
from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def in_order(pool: Executor, calls: Iterable[Callable[[], T]], ahead: int) -> Iterator[T]:
    """The result of each call, in order, each started on `pool` up to `ahead` calls before
    it is wanted (so at most `ahead` + 1 results are held). A consumer that stops early
    (an error, or closing the generator) cancels the calls not started yet."""
    pending: deque[Future[T]] = deque()
    try:
        for call in calls:
            pending.append(pool.submit(call))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


# Young objects a collection waits for in bulk work (the interpreter's default is 700): a
# page of rows is tens of thousands of short-lived dicts, which reference counting frees.
BULK_GC_THRESHOLD = 10_000


def collect_less() -> tuple[int, int, int]:
    """Garbage collection for a long loop over pages: what is alive now (modules, settings,
    pools) is no longer scanned, and collections come less often (in the legacy import this
    cut about 8% of the CPU). Returns the thresholds before. A worker process calls it once."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(BULK_GC_THRESHOLD, *threshold[1:])
    return threshold


@contextmanager
def bulk_gc() -> Iterator[None]:
    """`collect_less` for a block; the collector's thresholds are restored on exit, and what
    it froze is unfrozen (unless the process had frozen objects itself: gc cannot tell them
    apart, so all stay frozen, as that process wanted)."""
    frozen_before = gc.get_freeze_count()
    threshold = collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if not frozen_before:
            gc.unfreeze()
