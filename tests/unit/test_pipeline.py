"""Bulk-work helpers: results in order, ahead of the consumer; the collector tuned for a page
loop and put back afterwards."""
from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor

from provenant.pipeline import BULK_GC_THRESHOLD, bulk_gc, in_order


def test_bulk_gc_collects_less_inside_and_puts_the_collector_back():
    before = gc.get_threshold()
    with bulk_gc():
        assert gc.get_threshold() == (BULK_GC_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # what was alive is no longer scanned
        cycle: list = []
        cycle.append(cycle)  # garbage made inside is still collected
        del cycle
        assert gc.collect() >= 1
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_in_order_answers_in_call_order_with_at_most_ahead_calls_early():
    submitted, seen, release = [], [], threading.Event()

    def call(i: int):
        def run() -> int:
            if i == 0:
                release.wait(5)  # the first call finishes last
            return i
        return run

    def calls():
        for i in range(6):
            submitted.append(i)
            yield call(i)

    def while_blocked() -> None:  # the consumer waits for call 0 meanwhile
        seen.append(list(submitted))
        release.set()

    with ThreadPoolExecutor(4) as pool:
        results = in_order(pool, calls(), ahead=2)
        threading.Timer(0.3, while_blocked).start()
        assert list(results) == list(range(6))
    assert seen == [[0, 1, 2]]
