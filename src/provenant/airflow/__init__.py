"""Apache Airflow integration (extra `airflow`): DAGs that run the same workflow steps.

Point Airflow at :data:`DAGS_FOLDER` (``AIRFLOW__CORE__DAGS_FOLDER``). Importing this
package does not import Airflow, so the service venv can read the path too.
"""
from __future__ import annotations

from pathlib import Path

DAGS_FOLDER: Path = Path(__file__).resolve().parent / "dags"

__all__ = ["DAGS_FOLDER"]
