"""Re-export: the real `mlflow server` launcher lives in provenant.testing (benchmarks use it too)."""
from provenant.testing.mlflow_server import MlflowServer, free_port  # noqa: F401
