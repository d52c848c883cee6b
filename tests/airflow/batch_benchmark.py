"""Benchmark: the 10-run batch on the real Celery deployment with 1 and 2 workers.

    .venv-airflow/bin/python -m tests.airflow.batch_benchmark [--workers 1 2] [--runs 10]

Prints a Markdown table (docs/benchmarks.md, "Airflow batch"). It lives beside the
deployment harness it starts (tests/airflow/deployment.py), not in benchmarks/, which
never imports tests/. Per task it splits the time Airflow adds from the step's own
time (the `step_ms.<step>` metrics each MLflow run holds).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
from mlflow.tracking import MlflowClient

from provenant.airflow.workflow import WORKFLOW_ID
from provenant.bootstrap import configure, reset_services
from provenant.config import Settings
from provenant.adapters.mlflow_tracker import EXECUTION_TAG
from tests.airflow.deployment import PG_ADMIN, Deployment
from tests.support.mlflow_server import MlflowServer

SYMBOLS = ("TSLA", "MSFT", "NVDA", "NFLX", "AMZN")


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def measure(root: Path, mlflow_url: str, database_url: str, workers: int, runs: int,
            preload: bool = True) -> dict:
    """Start a deployment with `workers` workers, run the batch, return the numbers."""
    deployment = Deployment(root / f"airflow-{workers}-{preload}", {
        "PROVENANT_HOME": str(root / "provenant"), "PROVENANT_DATABASE_URL": database_url,
        "PROVENANT_MLFLOW_TRACKING_URI": mlflow_url, "PROVENANT_AUTO_MIGRATE": "false"},
        workers=tuple(f"worker-{i + 1}" for i in range(workers)), preload=preload)
    try:
        deployment.start()
        started = time.monotonic()
        run_ids = [deployment.trigger(WORKFLOW_ID, {"symbol": SYMBOLS[i % len(SYMBOLS)]})
                   for i in range(runs)]
        states = deployment.wait_for_runs(WORKFLOW_ID, run_ids, timeout=1800)
        wall = time.monotonic() - started
        assert set(states.values()) == {"success"}, states
        return {"workers": workers, "runs": runs, "wall_s": wall, "preload": preload,
                **_split(deployment, mlflow_url, run_ids)}
    finally:
        deployment.stop()


def _split(deployment: Deployment, tracking_uri: str, run_ids: list[str]) -> dict:
    """Per task: queue wait, time in the task process, the step's own time."""
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    waits, task_s, step_s = [], [], []
    for run_id in run_ids:
        [run] = client.search_runs(experiments, f"tags.{EXECUTION_TAG} = '{run_id}'")
        steps = {k.removeprefix("step_ms."): v / 1000 for k, v in run.data.metrics.items()
                 if k.startswith("step_ms.")}
        for task_id, ti in deployment.task_instances(WORKFLOW_ID, run_id).items():
            waits.append(_at(ti["start_date"]) - _at(ti["queued_when"]))
            task_s.append(_at(ti["end_date"]) - _at(ti["start_date"]))
            if task_id in steps:
                step_s.append(steps[task_id])
    return {"tasks": len(task_s), "queue_wait_s": statistics.median(waits),
            "task_s": statistics.median(task_s), "step_s": statistics.median(step_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--also-without-preload", action="store_true",
                        help="also run each size with Airflow's own Celery settings")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="airflow-bench-"))
    # One MLflow server and one artifact schema for every size (each DAG run is its own run).
    schema = f"afbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    database_url = (PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1)
                    + f"?options=-csearch_path%3D{schema}")
    mlflow = MlflowServer(root / "mlflow").start(timeout=600)
    services = configure(Settings(home=root / "provenant", database_url=database_url,
                                  mlflow_tracking_uri=mlflow.url, auto_migrate=True))
    services.artifacts.count()  # migrates the schema now: the workers do not (AUTO_MIGRATE)
    print("| workers | preloaded | DAG runs | tasks | wall time | tasks/min | median queue wait "
          "| median task (Airflow) | median step (own) | Airflow's share per task |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    try:
        for workers in args.workers:
            for preload in (True, False) if args.also_without_preload else (True,):
                r = measure(root, mlflow.url, database_url, workers, args.runs, preload)
                overhead = r["task_s"] - r["step_s"]
                print(f"| {r['workers']} | {'yes' if r['preload'] else 'no'} | {r['runs']} "
                      f"| {r['tasks']} | {r['wall_s']:.0f} s "
                      f"| {r['tasks'] / r['wall_s'] * 60:.1f} | {r['queue_wait_s']:.1f} s "
                      f"| {r['task_s']:.1f} s | {r['step_s']:.2f} s | {overhead:.1f} s |",
                      flush=True)
    finally:
        mlflow.stop()
        reset_services()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    shutil.rmtree(root)  # kept, with every process's log, when a batch failed


if __name__ == "__main__":
    main()
