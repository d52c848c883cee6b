"""Fixtures that start real parts: MLflow stores and servers, SQLite and PostgreSQL."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from provenant.bootstrap import configure, reset_services
from provenant.config import Settings
from tests.support.mlflow_server import MlflowServer

IN_CI = bool(os.environ.get("CI"))
PG_URL = os.environ.get("PROVENANT_TEST_DATABASE_URL")


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: PostgreSQL and browser tests must run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if IN_CI and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; failing the run", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An initialised MLflow SQLite store, created once and copied per test (init takes ~4 s)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_uri(tmp_path, mlflow_template) -> str:
    """A fresh, real MLflow tracking store for one test."""
    path = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory, mlflow_template):
    """A real `mlflow server` shared by the session (tests use their own experiments)."""
    workdir = tmp_path_factory.mktemp("mlflow-server")
    shutil.copy(mlflow_template, workdir / "mlflow.db")
    server = MlflowServer(workdir).start()
    yield server
    server.stop()


def _postgres_url() -> str:
    if not PG_URL:
        if IN_CI:
            pytest.fail("PROVENANT_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI")
        pytest.skip("PROVENANT_TEST_DATABASE_URL not set")
    return PG_URL


@pytest.fixture
def postgres_url():
    """A fresh schema in the test PostgreSQL database, dropped afterwards."""
    base = _postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each test that takes this runs on real SQLite and on real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'provenant.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def make_settings(tmp_path):
    """Settings rooted in the test's folder; keyword arguments override fields."""
    def make(**overrides) -> Settings:
        values = {"home": tmp_path / "home", "auto_migrate": True, **overrides}
        return Settings(**values)
    return make


@pytest.fixture
def services(make_settings, database_url, mlflow_uri):
    """Process-wide services on a real database and a real MLflow store."""
    svc = configure(make_settings(database_url=database_url, mlflow_tracking_uri=mlflow_uri))
    yield svc
    reset_services()
