"""Fixtures for the Airflow tier: run by `make test-airflow` in `.venv-airflow`.

The service venv (`.venv`) has no Airflow (it caps fastapi), so there this folder is
not collected at all; `make test-airflow` builds the venv that runs it.
"""
from __future__ import annotations

import importlib.util
import shutil

import pytest

if importlib.util.find_spec("airflow") is None:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def airflow_stack(tmp_path_factory):
    """Airflow metadata on SQLite in a temp AIRFLOW_HOME and a running api-server."""
    from tests.airflow.harness import AirflowStack

    stack = AirflowStack(tmp_path_factory.mktemp("airflow-home")).start()
    yield stack
    stack.stop()


@pytest.fixture
def provenant_env(tmp_path, mlflow_template) -> dict[str, str]:
    """PROVENANT_* settings for the DAG's tasks: temp artifact DB, MLflow store, blobs."""
    home = tmp_path / "provenant"
    home.mkdir()
    shutil.copy(mlflow_template, home / "mlflow.db")
    return {
        "PROVENANT_HOME": str(home),
        "PROVENANT_DATABASE_URL": f"sqlite:///{home / 'provenant.db'}",
        "PROVENANT_MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
    }


@pytest.fixture
def provenant_services(provenant_env):
    """This process's Services on the same stores the DAG's tasks use."""
    from provenant.bootstrap import configure, reset_services
    from provenant.config import Settings

    settings = Settings(home=provenant_env["PROVENANT_HOME"],
                        database_url=provenant_env["PROVENANT_DATABASE_URL"],
                        mlflow_tracking_uri=provenant_env["PROVENANT_MLFLOW_TRACKING_URI"])
    yield configure(settings)
    reset_services()
