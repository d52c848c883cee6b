"""Helpers that start real parts, for tests and benchmarks (a real `mlflow server`, a counting proxy)."""
