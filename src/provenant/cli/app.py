"""The Typer app and the one place CLI errors become messages and exit codes."""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Provenant: trading-signal artifacts with MLflow lineage.")
db_app = typer.Typer(no_args_is_help=True, help="Artifact database schema.")
app.add_typer(db_app, name="db")

console = Console(stderr=True, soft_wrap=True)  # one message, one line, however wide


class CliError(Exception):
    """An expected failure: printed as one line, exit code 1 (or the one given)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def print_json(data: Any) -> None:
    """Machine-readable output goes to stdout, alone."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_report(report, as_json: bool, headline: str, details: Iterable[str] = ()) -> None:
    """A command's report: its JSON alone on stdout, or a headline and details for people."""
    if as_json:
        print_json(report.to_dict())
        return
    console.print(headline, highlight=False)
    for line in details:
        console.print(f"  {line}", highlight=False)


def _message(exc: BaseException) -> str:
    from provenant.domain.errors import describe_error
    from provenant.store.outages import describe_database_error

    return describe_database_error(exc) or describe_error(exc)


def _click_errors() -> tuple[type[Exception], ...]:
    """Click's exception classes: typer >= 0.2x runs its own copy of click beside the real one."""
    import click

    vendored = getattr(typer, "_click", None)
    return (click.ClickException,) + ((vendored.exceptions.ClickException,) if vendored else ())


def main() -> None:
    """Entry point: run the app; known failures print a message, never a traceback."""
    from provenant.adapters.mlflow_tracker import configure_mlflow_client
    from provenant.adapters.tracking import TrackingUnavailable
    from provenant.store.database import SchemaNotReady
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    configure_mlflow_client()  # quiet stdout, short retries, no telemetry: before any MLflow use
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)  # click returns typer.Exit codes instead of exiting
    except (typer.Abort, KeyboardInterrupt):
        console.print("[red]Aborted.[/red]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except CliError as exc:
        console.print(f"[red]Error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.code)
    except _click_errors() as exc:  # usage mistakes: Click's "Usage:" and "Error:" lines, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (ValidationError, ValueError, LookupError, FileNotFoundError, SchemaNotReady,
            TrackingUnavailable, OperationalError, PoolTimeout) as exc:
        console.print(f"[red]Error:[/red] {_message(exc)}", highlight=False, soft_wrap=True)
        sys.exit(1)
