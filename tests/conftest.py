"""Fixtures that start real parts: MLflow stores and servers, SQLite, PostgreSQL, Chromium."""
from __future__ import annotations

import shutil
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from provenant.bootstrap import configure, reset_services
from provenant.config import Settings
from provenant.adapters.mlflow_tracker import MLFLOW_ENVIRONMENT
from tests.support.environment import IN_CI, require_postgres, unavailable
from tests.support.mlflow_server import MlflowServer


def _skip_reason(report) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter):
    """After pytest's own summary (-ra), one line: how many tests were skipped, and why."""
    yield
    skipped = terminalreporter.stats.get("skipped", [])
    reasons = Counter(_skip_reason(report) for report in skipped)
    detail = "; ".join(f"{reason}: {n}" for reason, n in reasons.most_common())
    terminalreporter.write_line(f"skipped: {len(skipped)}" + (f" ({detail})" if detail else ""),
                                yellow=bool(skipped), green=not skipped)


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


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The test PostgreSQL database (skipped locally, failed in CI, when there is none)."""
    return require_postgres()


@pytest.fixture
def postgres_url(postgres_base_url):
    """A fresh schema in the test PostgreSQL database, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_base_url else "?"
    yield f"{postgres_base_url}{sep}options=-csearch_path%3D{schema}"
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


@pytest.fixture
def sqlite_services(make_settings, mlflow_uri, tmp_path):
    """Process-wide services on SQLite and a real MLflow store, no scheduled repair (what a
    browser test serves)."""
    svc = configure(make_settings(database_url=f"sqlite:///{tmp_path / 'p.db'}",
                                  mlflow_tracking_uri=mlflow_uri, repair_interval_seconds=0))
    yield svc
    reset_services()


@pytest.fixture
def api_settings(make_settings, database_url, mlflow_uri):
    """Settings for an API on a real database and MLflow store; keywords override."""
    from tests.support.api import TOKEN

    def make(**overrides):
        values = {"database_url": database_url, "mlflow_tracking_uri": mlflow_uri,
                  "api_token": TOKEN, "repair_interval_seconds": 0, **overrides}
        return make_settings(**values)
    return make


@pytest.fixture
def start_api():
    """Build services + app from settings and open a TestClient; all closed afterwards."""
    from fastapi.testclient import TestClient

    from provenant.http.app import create_app

    opened = []

    def start(settings) -> TestClient:
        client = TestClient(create_app(configure(settings)))
        client.__enter__()
        opened.append(client)
        return client

    yield start
    for client in reversed(opened):
        client.__exit__(None, None, None)
    reset_services()


@pytest.fixture
def api(api_settings, start_api):
    """A client of the API on a fresh database (SQLite or PostgreSQL) and MLflow store."""
    return start_api(api_settings())


@pytest.fixture
def short_mlflow_retries(monkeypatch):
    """MLflow HTTP retries as `provenant serve` sets them."""
    for name, value in MLFLOW_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (never downloaded: Debian's, via executable_path)."""
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh tab on a laptop-sized screen; script dialogs are recorded, then dismissed."""
    from tests.support.browser import LAPTOP

    context = browser.new_context(viewport=LAPTOP)
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()
