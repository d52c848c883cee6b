"""A real Airflow 3 deployment for tests: the components and settings of deploy/compose.yaml.

Metadata DB on PostgreSQL (a database of its own, dropped afterwards), CeleryExecutor with
a `redis-server` of its own as broker (so a test may stop it; it saves its data on SIGTERM
as the compose file's Redis does), and `airflow scheduler`, `dag-processor`, `api-server`
and two `celery worker` processes, each with its own log in a temporary AIRFLOW_HOME.
DAG runs are triggered through the REST API.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import redis

from provenant.airflow import DAGS_FOLDER
from tests.airflow.processes import AIRFLOW, Service, StepHung, run_step
from tests.support.mlflow_server import free_port

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("AIRFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# Variables of the developer's shell that would point the deployment at real stores.
_LEAKY_PREFIXES = ("AIRFLOW", "PROVENANT_", "MLFLOW_")

# The settings deploy/compose.yaml gives every Airflow container (x-airflow-env), minus
# addresses and secrets; tests/airflow/test_deployment_files.py keeps the two in step.
DEPLOYMENT_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__AUTH_MANAGER":
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "1",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
    # Airflow's Celery settings, with the steps' modules imported before the pool forks.
    "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "provenant.airflow.celery_config.CELERY_CONFIG",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
# Only the test shortens these: a lost task is noticed in 30 s and retried 10 s later.
TEST_ONLY_SETTINGS = {
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.airflow.worker_name.worker_name",
    # A first Execution API call can take 15 s on a loaded 2-core machine (default 5 s).
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
}
WORKERS = ("worker-1", "worker-2")


class Deployment:
    """Start with :meth:`start`, always :meth:`stop` (also after a failed start)."""

    def __init__(self, home: Path, provenant_env: dict[str, str],
                 workers: tuple[str, ...] = WORKERS, preload: bool = True) -> None:
        self.home, self.workers = home, workers
        self.database = f"airflow_test_{uuid.uuid4().hex[:10]}"
        self.redis_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.services: dict[str, Service] = {}
        self._token: str | None = None
        pg = PG_ADMIN.rsplit("/", 1)[0]
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(_LEAKY_PREFIXES)}
        self.env.update(DEPLOYMENT_SETTINGS)
        if not preload:  # the benchmark's comparison: Airflow's own Celery settings
            del self.env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"]
        self.env.update(TEST_ONLY_SETTINGS)
        self.env.update(provenant_env)
        self.env.update({
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{pg.replace('postgresql', 'postgresql+psycopg2', 1)}/{self.database}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{pg}/{self.database}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "PYTHONPATH": str(REPO),  # the workers import tests.airflow.worker_name
            "PYTHONUNBUFFERED": "1",
        })

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "Deployment":
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({"admin": self.password}))
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.start_redis()
        run_step("airflow db migrate", [AIRFLOW, "db", "migrate"], env=self.env, cwd=self.home,
                 log=self.home / "db-migrate.log", timeout=300)
        # The api-server first: workers report every task start to its Execution API.
        self._service("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port))
        self.services["api-server"].wait_for("answer on /api/v2/version", self._answers, 180)
        self._service("scheduler", "scheduler")
        self._service("dag-processor", "dag-processor")
        for name in self.workers:
            self._service(name, "celery", "worker", "--celery-hostname", f"{name}@%h",
                          env={"TEST_WORKER_NAME": name,
                               "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
        for dag_id in ("ibkr_trading_signal_workflow", "artifact_lineage_repair"):
            self.services["dag-processor"].wait_for(
                f"parsed DAG {dag_id}", lambda d=dag_id: self._dag_ready(d), 180, interval=2)
        for name in self.workers:
            self.services[name].wait_for("'ready' in its log", lambda n=name: b" ready." in (
                self.home / f"{n}.log").read_bytes(), 180)
        return self

    def start_redis(self) -> None:
        """The broker, (re)started on its port; it reloads what it saved when stopped."""
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise RuntimeError("redis-server not found: apt-get install -y redis-server")
        self.services["redis"] = Service(
            "redis", [redis_server, "--bind", "127.0.0.1", "--port", str(self.redis_port),
                      "--dir", str(self.home), "--dbfilename", "broker.rdb"],
            env=self.env, cwd=self.home, log=self.home / "redis.log").start()
        broker = redis.Redis(port=self.redis_port)
        try:
            self.services["redis"].wait_for("PONG", lambda: _pings(broker), 30, 0.2)
        finally:
            broker.close()

    def stop_redis(self) -> None:
        """Stop the broker on purpose (SIGTERM: it saves its data first)."""
        self.services["redis"].stop()
        self.services["redis"].killed = True  # not a crash: _check_alive lets it be

    def _service(self, name: str, *args: str, env: dict[str, str] | None = None) -> Service:
        service = Service(name, [AIRFLOW, *args], env={**self.env, **(env or {})},
                          cwd=self.home, log=self.home / f"{name}.log")
        self.services[name] = service.start()
        return service

    def stop(self) -> None:
        """Stop every process tree (Redis last), then drop the database."""
        for service in reversed(list(self.services.values())):
            service.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # -- REST API --------------------------------------------------------------------------

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v2/version", timeout=2).is_success
        except httpx.HTTPError:
            return False

    def _dag_ready(self, dag_id: str) -> bool:
        try:
            return self.api("GET", f"/api/v2/dags/{dag_id}").status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One REST call as the admin user (a JWT from /auth/token, fetched once).

        The api-server also serves every task's Execution API calls: on a loaded 2-core
        machine a call waited 30 s for it, hence the long timeout.
        """
        if self._token is None:
            answer = httpx.post(f"{self.url}/auth/token", timeout=120,
                                json={"username": "admin", "password": self.password})
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return httpx.request(method, f"{self.url}{path}", timeout=120,
                             headers={"Authorization": f"Bearer {self._token}"}, **kwargs)

    def clear(self, dag_id: str, run_id: str, task_ids: list[str] | None = None, *,
              downstream: bool = False, only_failed: bool = False) -> None:
        """What an operator's "Clear" does: run these task instances of a DAG run again."""
        body = {"dry_run": False, "dag_run_id": run_id, "only_failed": only_failed,
                "reset_dag_runs": True}
        if task_ids:
            body |= {"task_ids": task_ids, "include_downstream": downstream}
        answer = self.api("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", json=body)
        assert answer.status_code == 200, answer.text

    def pause(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG: the scheduler starts no task of a paused DAG's runs."""
        answer = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})
        assert answer.status_code == 200, answer.text

    def trigger(self, dag_id: str, conf: dict) -> str:
        """POST a DAG run (as an operator would); its run_id."""
        answer = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                          json={"logical_date": None, "conf": conf})
        assert answer.status_code == 200, answer.text
        return answer.json()["dag_run_id"]

    def dag_runs(self, dag_id: str) -> list[dict]:
        answer = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
        assert answer.status_code == 200, answer.text
        return answer.json()["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        answer = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        assert answer.status_code == 200, answer.text
        return {ti["task_id"]: ti for ti in answer.json()["task_instances"]}

    def wait_for_task(self, dag_id: str, run_id: str, task_id: str, states: set[str],
                      timeout: float) -> None:
        """Wait, while the scheduler runs, until the task instance is in one of `states`."""
        self.services["scheduler"].wait_for(
            f"{task_id} of {run_id} in {sorted(states)}",
            lambda: self.task_instances(dag_id, run_id).get(task_id, {}).get("state") in states,
            timeout, interval=1)

    def task_log(self, dag_id: str, run_id: str, task_id: str, attempt: int) -> str:
        """The log one try of a task wrote (what the UI's log view shows)."""
        path = (self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
                / f"task_id={task_id}" / f"attempt={attempt}.log")
        return path.read_text(errors="replace")

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout: float) -> dict[str, str]:
        """Wait until every run is success or failed; their states. Names what hung."""
        deadline, states = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            states = {run["dag_run_id"]: run["state"] for run in self.dag_runs(dag_id)
                      if run["dag_run_id"] in run_ids}
            if len(states) == len(run_ids) and all(
                    s in ("success", "failed") for s in states.values()):
                return states
            self._check_alive()
            time.sleep(2)
        pending = [r for r in run_ids if states.get(r) not in ("success", "failed")]
        tasks = {r: {t: ti["state"] for t, ti in self.task_instances(dag_id, r).items()}
                 for r in pending[:3]}
        raise StepHung(f"DAG runs of {dag_id} not finished after {timeout:.0f} s: {states}; "
                       f"task states {tasks}; logs in {self.home}")

    def _check_alive(self) -> None:
        dead = [name for name, service in self.services.items()
                if not service.alive() and not service.killed]
        if dead:
            raise AssertionError(f"{', '.join(dead)} exited; logs in {self.home}")


def _pings(broker: redis.Redis) -> bool:
    try:
        return bool(broker.ping())
    except redis.RedisError:
        return False


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
