"""deploy/compose.yaml cannot run here (no Docker daemon): check it against the code instead."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from provenant.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")
SHARED_STORES = ("PROVENANT_DATABASE_URL", "PROVENANT_MLFLOW_TRACKING_URI",
                 "PROVENANT_BLOB_STORE_URL", "PROVENANT_S3_ENDPOINT_URL")


def _example_env(name: str) -> dict[str, str]:
    """KEY=value lines of an example file, commented-out ones included."""
    pairs = (line.lstrip("# ").split("=", 1) for line in (DEPLOY / name).read_text().splitlines()
             if re.match(r"#? ?[A-Z][A-Z0-9_]*=", line))
    return {key: value for key, value in pairs}


def _compose_environments() -> dict[str, dict[str, str]]:
    """Each service's environment, interpolated the way compose does with .env.example."""
    dotenv = _example_env(".env.example")

    def interpolate(value: str) -> str:
        return _VARIABLE.sub(lambda m: dotenv.get(m[1]) or (m[2] if "-" in m[0] else ""), value)

    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    return {name: {key: interpolate(str(value))
                   for key, value in (service.get("environment") or {}).items()}
            for name, service in services.items()}


def test_every_provenant_variable_in_the_deployment_is_a_setting_the_code_reads():
    named = {key for env in _compose_environments().values() for key in env}
    named |= set(_example_env(".env.example")) | set(_example_env("provenant.env.example"))
    provenant = {key for key in named if key.startswith("PROVENANT_")}

    assert provenant >= set(SHARED_STORES)
    fields = {f"PROVENANT_{name.upper()}" for name in Settings.model_fields}
    assert provenant - fields == set()


def test_api_and_airflow_workers_share_real_stores_with_valid_settings():
    environments = _compose_environments()
    worker, api = environments["airflow-worker"], environments["provenant-api"]

    assert {k: worker[k] for k in SHARED_STORES} == {k: api[k] for k in SHARED_STORES}
    settings = Settings(**{key.removeprefix("PROVENANT_").lower(): value
                           for key, value in worker.items() if key.startswith("PROVENANT_")})
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.tracking_is_server
    assert settings.blob_store_url.startswith("s3://")
    assert settings.auto_migrate is False
    assert worker["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["AWS_ACCESS_KEY_ID"] and worker["AWS_SECRET_ACCESS_KEY"]


def test_compose_runs_the_components_and_settings_the_deployment_test_runs():
    from tests.airflow.deployment import DEPLOYMENT_SETTINGS, TEST_ONLY_SETTINGS, WORKERS

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    commands = {name: service.get("command") for name, service in services.items()
                if name.startswith("airflow-") and name != "airflow-init"}
    # The test starts each as its own process: scheduler, dag-processor, api-server, workers.
    assert commands == {"airflow-apiserver": ["api-server"], "airflow-scheduler": ["scheduler"],
                        "airflow-dag-processor": ["dag-processor"],
                        "airflow-worker": ["celery", "worker"]}
    assert services["airflow-worker"]["deploy"]["replicas"] == len(WORKERS)
    assert {"postgres", "redis"} <= set(services)

    environments = _compose_environments()
    for name in commands:
        env = environments[name]
        assert {k: env.get(k) for k in DEPLOYMENT_SETTINGS} == DEPLOYMENT_SETTINGS, name
        assert not set(TEST_ONLY_SETTINGS) & set(env), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert environments["provenant-api"]["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_deployment_docs_name_every_setting_the_test_runs_with():
    from tests.airflow.deployment import DEPLOYMENT_SETTINGS, TEST_ONLY_SETTINGS

    docs = (DEPLOY.parent / "docs" / "deployment.md").read_text()
    for key, value in {**DEPLOYMENT_SETTINGS, **TEST_ONLY_SETTINGS}.items():
        assert f"`{key}`" in docs and value in docs, key
    for component in ("airflow scheduler", "airflow dag-processor", "airflow api-server",
                      "airflow celery worker"):
        assert f"`{component}" in docs, component
