"""Run the repair job periodically inside `provenant serve`, never taking the server down."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from provenant.domain.reports import RepairReport

log = logging.getLogger("provenant.lineage")


class PeriodicRepair:
    """A daemon thread that runs a repair pass (``job``) every ``interval_seconds``.

    The first pass runs one interval after start, so a server that starts and stops
    quickly (tests, restarts) does not race its own read-time hydration.
    """

    def __init__(self, job: Callable[[], RepairReport], interval_seconds: float,
                 join_timeout: float = 5.0) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive (0 means: do not schedule)")
        self.job = job
        self.interval_seconds = interval_seconds
        self.join_timeout = join_timeout
        self.passes = 0
        self.last_report: RepairReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "PeriodicRepair":
        """Start the schedule (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="provenant-repair",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop promptly: no new pass starts; a pass in flight gets `join_timeout` to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.join_timeout)
            self._thread = None

    def run_once(self) -> RepairReport | None:
        """One pass; failures are logged, never raised (the server must keep serving)."""
        try:
            report = self.job()
        except Exception:
            log.exception("scheduled lineage repair failed")
            return None
        finally:
            self.passes += 1
        if report.errors:
            log.warning("scheduled lineage repair finished with errors: %s",
                        "; ".join(report.errors))
        self.last_report = report
        return report

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.run_once()
