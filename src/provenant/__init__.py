"""Provenant: trading-signal artifacts that always name the MLflow run that made them."""
__version__ = "0.1.0"
