"""What this machine offers the tests: CI or not, and which PostgreSQL to use."""
from __future__ import annotations

import os
from functools import lru_cache

import pytest

IN_CI = bool(os.environ.get("CI"))
# The conventional local server (`bash .ci/run` and these machines run it).
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def unavailable(message: str) -> None:
    """Skip a test whose real part is missing here; in CI that is a failure instead."""
    if IN_CI:
        pytest.fail(f"{message}: it must run in CI")
    pytest.skip(message)


@lru_cache
def postgres_url() -> str | None:
    """PROVENANT_TEST_DATABASE_URL, else the conventional local server if it answers."""
    if url := os.environ.get("PROVENANT_TEST_DATABASE_URL"):
        return url
    import psycopg

    try:  # a quick attempt: a machine without the server must not wait here
        psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                        connect_timeout=2).close()
    except psycopg.Error:
        return None
    return DEFAULT_POSTGRES_URL


def require_postgres() -> str:
    """The test PostgreSQL's URL, or skip (fail in CI) naming what to set."""
    url = postgres_url()
    if url is None:
        unavailable("no PostgreSQL: PROVENANT_TEST_DATABASE_URL is not set and "
                    "127.0.0.1:5432 does not answer")
    return url
