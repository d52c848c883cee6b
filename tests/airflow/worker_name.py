"""Airflow's hostname_callable for the test workers: both run on this one machine."""
from __future__ import annotations

import os
import socket


def worker_name() -> str:
    """The worker's name from TEST_WORKER_NAME (Airflow records it as the task's hostname)."""
    return os.environ.get("TEST_WORKER_NAME") or socket.getfqdn()
