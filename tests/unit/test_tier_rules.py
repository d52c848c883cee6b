"""The unit tier's guard refuses what a unit test must not do."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text


def test_no_network():
    with pytest.raises(RuntimeError, match="no network connection"), socket.socket() as sock:
        sock.connect(("127.0.0.1", 9))


def test_no_subprocess():
    with pytest.raises(RuntimeError, match="no subprocess"):
        subprocess.run([sys.executable, "-c", "pass"])


def test_no_database():
    with pytest.raises(RuntimeError, match="no database"):
        with create_engine("sqlite://").connect() as conn:
            conn.execute(text("select 1"))
