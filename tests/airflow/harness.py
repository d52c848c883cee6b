"""A real Airflow 3 for tests: SQLite metadata, an api-server, `airflow dags test` runs."""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from provenant.airflow import DAGS_FOLDER
from tests.airflow.processes import AIRFLOW, StepHung, kill_tree
from tests.support.mlflow_server import free_port

# Variables of the developer's shell that would point a run at real stores.
_LEAKY_PREFIXES = ("AIRFLOW", "PROVENANT_", "MLFLOW_")


@dataclass(frozen=True)
class DagRunResult:
    returncode: int
    output: str
    run_id: str


class AirflowStack:
    """Airflow metadata in ``home`` plus an api-server serving the task Execution API.

    `airflow dags test` alone runs every task inside its own process. With
    ``--use-executor`` it hands each task to the LocalExecutor, whose supervisor forks a
    fresh task process talking to the api-server: the way a deployment runs tasks.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(_LEAKY_PREFIXES)}
        self.env.update({
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "PYTHONUNBUFFERED": "1",
        })

    def airflow(self, *args: str, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
        """Run one `airflow` CLI command in its own session (stdout and stderr merged).

        On a timeout the whole tree goes (the LocalExecutor's `airflow worker` children
        too) and the failure names the command that hung, with the end of its output.
        """
        proc = subprocess.Popen([AIRFLOW, *args], env={**self.env, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=self.home, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            output, _ = proc.communicate()
            raise StepHung(f"`airflow {' '.join(args)}` hung: no exit after {timeout:.0f} s; "
                           f"its output ends:\n{output[-3000:]}") from None
        finally:
            if proc.poll() is None:
                kill_tree(proc)
        return subprocess.CompletedProcess(proc.args, proc.returncode, output)

    def start(self, timeout: float = 120) -> "AirflowStack":
        self.home.mkdir(parents=True, exist_ok=True)
        migrated = self.airflow("db", "migrate", timeout=300)
        if migrated.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stdout[-3000:]}")
        log = open(self.home / "api-server.log", "ab")
        self.proc = subprocess.Popen(
            [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.home,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"airflow api-server exited; see {self.home}/api-server.log")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v2/version", timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise StepHung(f"airflow api-server: no answer after {timeout:.0f} s; "
                       f"see {self.home}/api-server.log")

    def stop(self) -> None:
        """The api-server's whole process tree: SIGTERM, then SIGKILL."""
        if self.proc is not None:
            kill_tree(self.proc)
            self.proc = None

    def dags_test(self, dag_id: str, *, env: dict[str, str], conf: dict | None = None,
                  logical_date: str) -> DagRunResult:
        """`airflow dags test --use-executor DAG DATE [-c CONF]`: one DAG run, tasks forked."""
        args = ["dags", "test", "--use-executor", dag_id, logical_date]
        if conf is not None:
            args += ["-c", json.dumps(conf)]
        done = self.airflow(*args, env=env)
        return DagRunResult(done.returncode, done.stdout, self.run_id_of(dag_id, logical_date))

    def _query(self, sql: str, *params) -> list[sqlite3.Row]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            db.row_factory = sqlite3.Row
            return db.execute(sql, params).fetchall()

    def run_id_of(self, dag_id: str, logical_date: str) -> str:
        """The run id Airflow gave the DAG run of that logical date ('' if none)."""
        rows = self._query("SELECT run_id, logical_date FROM dag_run WHERE dag_id = ?", dag_id)
        wanted = logical_date.replace("T", " ")[:19]
        return next((row["run_id"] for row in rows
                     if str(row["logical_date"]).startswith(wanted)), "")

    def xcoms(self, dag_id: str, run_id: str) -> dict[str, dict[str, object]]:
        """What each task pushed to XCom: task id -> key -> decoded value."""
        rows = self._query("SELECT task_id, key, value FROM xcom WHERE dag_id = ? AND run_id = ?",
                           dag_id, run_id)
        pushed: dict[str, dict[str, object]] = {}
        for row in rows:
            pushed.setdefault(row["task_id"], {})[row["key"]] = json.loads(row["value"])
        return pushed

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, sqlite3.Row]:
        """Airflow's record of each task of a run: state, and the pid that ran it."""
        rows = self._query("SELECT task_id, state, pid, try_number FROM task_instance "
                           "WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return {row["task_id"]: row for row in rows}
