"""Fixtures for the reliability scenarios (crashes, concurrency, database faults)."""
from __future__ import annotations

import pytest

from tests.support.cli_zygote import CliForkServer


@pytest.fixture(scope="session")
def fork_server():
    """Real `provenant` processes without paying the CLI's imports for each one."""
    server = CliForkServer()
    yield server
    server.close()
