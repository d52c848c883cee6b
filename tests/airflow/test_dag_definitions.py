"""The DAG files parse in Airflow and have the shape the CONTRACT promises."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from provenant.airflow.workflow import WORKFLOW_ID, step_names

# Runs in a subprocess with its own AIRFLOW_HOME: importing Airflow here would
# configure it for the whole pytest process.
_DESCRIBE = """
import json
import os
from airflow.dag_processing.dagbag import DagBag
from provenant.airflow import DAGS_FOLDER

bag = DagBag(str(DAGS_FOLDER))
print(json.dumps({
    "errors": {path: str(err) for path, err in bag.import_errors.items()},
    "dags": {dag_id: {
        "tasks": [t.task_id for t in dag.topological_sort()],
        "edges": sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
        "schedule": str(dag.schedule), "catchup": dag.catchup,
        "params": sorted(dag.params.keys()),
    } for dag_id, dag in bag.dags.items()},
}))
"""


def _describe(home) -> dict:
    """Parse the DAG files in a subprocess with a throwaway AIRFLOW_HOME."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}")
    done = subprocess.run([sys.executable, "-c", _DESCRIBE], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dags_parse_as_a_chain_of_the_workflow_steps_and_a_scheduled_repair(tmp_path):
    described = _describe(tmp_path)

    assert described["errors"] == {}
    assert set(described["dags"]) == {WORKFLOW_ID, "artifact_lineage_repair"}
    workflow = described["dags"][WORKFLOW_ID]
    steps = list(step_names())
    assert workflow["tasks"] == steps
    assert workflow["edges"] == sorted([a, b] for a, b in zip(steps, steps[1:]))
    assert workflow["params"] == ["analyst", "market_data_csv", "market_data_provider", "symbol"]
    repair = described["dags"]["artifact_lineage_repair"]
    assert repair["tasks"] == ["repair_lineage"]
    assert repair["catchup"] is False
    assert repair["schedule"] == "0:10:00"


def test_provenant_airflow_names_the_dags_folder_without_importing_airflow():
    probe = ("import sys, provenant.airflow as pa; "
             "print(pa.DAGS_FOLDER, 'airflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    folder, imported = done.stdout.split()
    assert imported == "False"
    assert sorted(p.name for p in __import__("pathlib").Path(folder).glob("*.py")) == [
        "artifact_lineage_repair.py", "ibkr_trading_signal_workflow.py"]


def test_airflow_processes_send_no_mlflow_telemetry_unless_asked_to():
    # The DAG files import provenant.airflow first, in every Airflow process.
    probe = ("import os, provenant.airflow, mlflow.telemetry.utils as t; "
             "print(os.environ.get('MLFLOW_DISABLE_TELEMETRY'), t.is_telemetry_disabled())")
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}

    def run(env):
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split()

    assert run(clean) == ["true", "True"]
    assert run({**clean, "MLFLOW_DISABLE_TELEMETRY": "false"})[0] == "false"
