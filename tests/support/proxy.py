"""Re-export: the counting proxy lives in provenant.testing (benchmarks use it too)."""
from provenant.testing.proxy import CountingProxy  # noqa: F401
