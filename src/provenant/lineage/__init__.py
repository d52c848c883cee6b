"""Lineage: open runs before artifacts exist, and repair artifacts that have none."""
from __future__ import annotations

__all__ = ["RunContext", "current_run", "mlflow_run_context"]


def __getattr__(name: str):
    # Lazy, so that provenant.bootstrap can import provenant.adapters.mlflow_tracker
    # without pulling in the run context (which itself needs bootstrap).
    if name in __all__:
        from provenant.lineage import context

        return getattr(context, name)
    raise AttributeError(name)
