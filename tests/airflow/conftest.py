"""Fixtures for the Airflow tier: run by `make test-airflow` in `.venv-airflow`.

The service venv (`.venv`) has no Airflow (it caps fastapi), so there this folder is
not collected at all; `make test-airflow` builds the venv that runs it.
"""
from __future__ import annotations

import importlib.util
import signal

import pytest

if importlib.util.find_spec("airflow") is None:
    collect_ignore_glob = ["test_*.py"]


def pytest_configure(config):
    """SIGTERM stops the run like Ctrl-C: fixture teardown still kills every Airflow process.

    By default SIGTERM ends pytest at once, leaving the deployment's processes, database
    and Redis keys behind (seen when a run was terminated from outside).
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)


LEGACY_EXECUTION_ID = "2025-11-15 13:54:31.981650+00:00"  # the previous system's format


class GatedAnalyst:
    """An OpenAI-compatible analyst that holds every request until its `gate` is set."""

    def __init__(self) -> None:
        import threading

        from tests.support.openai_server import OpenAIServer

        self.gate = threading.Event()
        self.server = OpenAIServer()
        held, self.url = self.server._next, self.server.url

        def next_after_gate():
            self.gate.wait(300)
            return held()

        self.server._next = next_after_gate

    def requests(self) -> int:
        return len(self.server.requests)


def _seed_legacy(services) -> dict:
    """A legacy signal without lineage, and the MLflow run its execution had."""
    from provenant.domain.artifacts import ArtifactType, NewArtifact
    from provenant.adapters.mlflow_tracker import EXECUTION_TAG

    client = services.tracker.client
    experiment_id = client.create_experiment("legacy_trading_signals")
    run = client.create_run(experiment_id, tags={EXECUTION_TAG: LEGACY_EXECUTION_ID})
    client.set_terminated(run.info.run_id, "FINISHED")
    artifact = services.artifacts.add(NewArtifact(
        type=ArtifactType.signal, name="TSLA signal", symbol="TSLA",
        workflow_id="ibkr_trading_signal_workflow", execution_id=LEGACY_EXECUTION_ID,
        step_name="generate_signal", payload={"action": "BUY", "confidence": 0.7}))
    return {"artifact_id": artifact.id, "run_id": run.info.run_id,
            "experiment_id": experiment_id}


@pytest.fixture(scope="session")
def celery_deployment(tmp_path_factory, mlflow_server):
    """The deployment of deploy/compose.yaml, started once: see tests/airflow/deployment.py.

    Provenant's artifact DB is a fresh PostgreSQL schema, MLflow a real `mlflow server`.
    A legacy artifact is seeded before Airflow starts, for the scheduled repair DAG.
    """
    import uuid
    from types import SimpleNamespace

    import psycopg

    from provenant.bootstrap import configure, reset_services
    from provenant.config import Settings
    from tests.airflow.deployment import PG_ADMIN, Deployment

    root = tmp_path_factory.mktemp("celery-deployment")
    schema = f"af_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    database_url = (PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1)
                    + f"?options=-csearch_path%3D{schema}")
    analyst = GatedAnalyst()
    env = {
        "PROVENANT_HOME": str(root / "provenant"),
        "PROVENANT_DATABASE_URL": database_url,
        "PROVENANT_MLFLOW_TRACKING_URI": mlflow_server.url,
        "PROVENANT_AUTO_MIGRATE": "false",
        "PROVENANT_LLM_BASE_URL": analyst.url, "PROVENANT_LLM_API_KEY": "test",
    }
    services = configure(Settings(home=root / "provenant", database_url=database_url,
                                  mlflow_tracking_uri=mlflow_server.url, auto_migrate=True))
    deployment = Deployment(root / "airflow-home", env)
    with analyst.server:
        try:
            seeded = _seed_legacy(services)
            deployment.start()
            yield SimpleNamespace(deployment=deployment, services=services, seeded=seeded,
                                  analyst=analyst, mlflow=mlflow_server,
                                  mlflow_url=mlflow_server.url)
        finally:
            analyst.gate.set()
            deployment.stop()
            reset_services()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    # Torn down: no process of it left, its broker included.
    assert not [s.name for s in deployment.services.values() if s.alive()]
