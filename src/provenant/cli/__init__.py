"""The `provenant` command: each command is settings -> one service call."""
from provenant.cli import db  # noqa: F401  (registers commands)
from provenant.cli import serve  # noqa: F401  (registers commands)
from provenant.cli import artifacts, lineage  # noqa: F401  (registers commands)
from provenant.cli import demo, run  # noqa: F401  (registers commands)
from provenant.cli import evidence  # noqa: F401  (registers commands)
from provenant.cli.app import app, main

__all__ = ["app", "main"]
