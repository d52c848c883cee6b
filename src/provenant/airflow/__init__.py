"""Apache Airflow integration (extra `airflow`): DAGs that run the same workflow steps.

Point Airflow at :data:`DAGS_FOLDER` (``AIRFLOW__CORE__DAGS_FOLDER``). Importing this
package does not import Airflow, so the service venv can read the path too.
"""
from __future__ import annotations

import os
from pathlib import Path

# Airflow imports this package before any task touches MLflow: no usage telemetry from
# the scheduler, dag-processor, workers or task processes (MLflow reads it at import;
# its telemetry thread also races the environment, KeyError '_MLFLOW_TELEMETRY_SESSION_ID').
# An operator's explicit MLFLOW_DISABLE_TELEMETRY=false still wins.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

DAGS_FOLDER: Path = Path(__file__).resolve().parent / "dags"

__all__ = ["DAGS_FOLDER"]
