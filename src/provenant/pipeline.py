"""Work started ahead of its consumer, results taken in order: the one pattern behind the
import's page workers and read-ahead and verify's run searches."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
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
