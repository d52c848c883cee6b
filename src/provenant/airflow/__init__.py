"""Apache Airflow integration (extra `airflow`): DAGs that run the same workflow steps.

Point Airflow at :data:`DAGS_FOLDER` (``AIRFLOW__CORE__DAGS_FOLDER``). Importing this
package does not import Airflow, so the service venv can read the path too.
"""
from __future__ import annotations

from pathlib import Path

from provenant.adapters.mlflow_tracker import configure_mlflow_client

# Airflow imports this package before any task touches MLflow: no usage telemetry (and short
# retries) in the scheduler, dag-processor, workers and task processes. MLflow 3.17's
# telemetry thread also races the environment (KeyError '_MLFLOW_TELEMETRY_SESSION_ID').
# An operator's own values still win.
configure_mlflow_client()

DAGS_FOLDER: Path = Path(__file__).resolve().parent / "dags"

__all__ = ["DAGS_FOLDER"]
