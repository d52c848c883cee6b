"""The unit tier's rule, enforced: no network, no subprocess, no database file (use the fakes
of tests/support/fakes.py; what needs real parts belongs in tests/integration)."""
from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import Callable
from functools import cache

import pytest

from provenant.adapters.market_data import fetch_bars
from provenant.config import Settings
from provenant.domain.market import BarSeries


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"the unit tier opens no {what}: use tests/support/fakes.py, "
                           "or move the test to tests/integration")
    return refuse


@pytest.fixture(autouse=True)
def no_real_parts(monkeypatch):
    """Fail a unit test that connects anywhere, starts a process or opens a database."""
    monkeypatch.setattr(socket.socket, "connect", _refuse("network connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("network connection"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("subprocess"))
    for module in (sqlite3, sqlite3.dbapi2):  # SQLAlchemy connects through dbapi2
        monkeypatch.setattr(module, "connect", _refuse("database"))  # PostgreSQL: a socket


@cache
def _bundled(symbol: str) -> BarSeries:
    return fetch_bars("bundled", symbol, Settings())


@pytest.fixture(scope="session")
def bundled() -> Callable[[str], BarSeries]:
    """`fetch_bars("bundled", symbol)`, once per symbol: parsing a dataset's dates costs a
    third of a second, and a dozen tests read the same five datasets."""
    return _bundled
