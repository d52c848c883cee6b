"""Celery settings for Airflow workers that run Provenant's tasks: Airflow's, preloaded.

Set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=provenant.airflow.celery_config.CELERY_CONFIG``.
The settings are Airflow's own defaults, unchanged. Importing this module also imports
what every workflow step needs (MLflow, pandas, matplotlib, SQLAlchemy, ...) into the
Celery worker before it forks its pool; Airflow forks each task's process from there, so
a task starts with them loaded instead of importing them again (seconds per task).
"""
from __future__ import annotations

import importlib
import os

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

# What the steps import lazily; all are fork-safe at import (no threads, no connections).
PRELOADED = (
    "provenant.bootstrap", "provenant.lineage.context", "provenant.workflows",
    "provenant.workflows.ibkr_signal.steps", "provenant.domain.indicators",
    "provenant.adapters.market_data", "provenant.workflows.ibkr_signal.charts",
    "provenant.workflows.ibkr_signal.mlflow_logging", "provenant.adapters.analysts",
    "provenant.airflow.repair", "mlflow.tracking", "matplotlib.pyplot", "mplfinance",
)

CELERY_CONFIG = DEFAULT_CELERY_CONFIG


def preload() -> None:
    """Import the steps' modules (the headless matplotlib backend first)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in PRELOADED:
        importlib.import_module(name)


preload()
