"""Watch a repair job that runs as its own process, through the log lines it writes."""
from __future__ import annotations

import time
from pathlib import Path

REPAIRED = '"event": "lineage_repaired"'
FINISHED = '"event": "lineage_repair_finished"'


def wait_for_repairs(stderr: Path, pid: int, repairs: int, timeout: float = 60) -> None:
    """Until the job has logged `repairs` repaired artifacts, finished, or exited."""
    deadline = time.monotonic() + timeout
    seen = 0
    with stderr.open() as log:
        while time.monotonic() < deadline:
            chunk = log.read()
            seen += chunk.count(REPAIRED)
            if seen >= repairs or FINISHED in chunk or exited(pid):
                return
            time.sleep(0.001)
    raise AssertionError(f"repair job {pid} stalled: {stderr.read_text()[-2000:]}")


def exited(pid: int) -> bool:
    """True once our unreaped child has ended (a zombie, awaiting its parent's wait)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
