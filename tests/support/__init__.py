"""Real services for tests: MLflow stores and servers, databases, a counting proxy."""
