"""Helpers that start real parts, for tests and benchmarks: `mlflow server`, a proxy."""
