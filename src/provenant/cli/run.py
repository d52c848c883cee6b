"""`provenant run WORKFLOW --symbol ...` and `provenant workflows list`.

Execution ids: with one symbol the execution id is ``--execution-id`` or
``manual__<UTC ISO-8601>``; with several symbols each runs as its own execution
``<that id>__<SYMBOL>`` (e.g. ``manual__2026-11-25T10:00:00+00:00__MSFT``).
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from provenant.cli.app import CliError, app, console, print_json

workflows_app = typer.Typer(no_args_is_help=True, help="Workflows this installation can run.")
app.add_typer(workflows_app, name="workflows")


def execution_ids(base: str | None, symbols: list[str]) -> list[str]:
    """One execution id per symbol: the base itself for one symbol, base__SYMBOL for several."""
    from provenant.workflows import default_execution_id

    base = base or default_execution_id()
    if len(symbols) == 1:
        return [base]
    return [f"{base}__{symbol}" for symbol in symbols]


@app.command("run")
def run_command(
    workflow: Annotated[str, typer.Argument(help="Workflow id (see `provenant workflows list`).")],
    symbols: Annotated[list[str], typer.Option("--symbol", "-s",
                                               help="Ticker; repeat for several executions.")],
    execution_id: Annotated[str | None, typer.Option(
        "--execution-id", help="Execution id (default manual__<UTC ISO-8601>).")] = None,
    market_data: Annotated[str | None, typer.Option(
        "--market-data", help="bundled, csv or ibkr (default PROVENANT_MARKET_DATA_PROVIDER).")
    ] = None,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="OHLCV file for --market-data csv (default PROVENANT_MARKET_DATA_CSV).")
    ] = None,
    analyst: Annotated[str | None, typer.Option(
        "--analyst", help="rules or openai (default PROVENANT_ANALYST).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a workflow for each symbol; every artifact carries its execution's MLflow run."""
    from provenant.bootstrap import get_services
    from provenant.workflows import get_workflow, start_inputs

    get_workflow(workflow)
    services = get_services()
    params = {"market_data_provider": market_data, "analyst": analyst,
              "market_data_csv": str(csv) if csv else None}
    # Check every symbol and parameter before the first execution starts.
    symbols = [start_inputs(workflow, s, params, settings=services.settings)["symbol"]
               for s in symbols]
    if len(set(symbols)) != len(symbols):
        raise CliError("each --symbol may be given once")
    results = []
    # MLflow prints "View run ..." to stdout; stdout carries only our JSON, so send it aside.
    with contextlib.redirect_stdout(sys.stderr):
        for symbol, eid in zip(symbols, execution_ids(execution_id, symbols)):
            results.append(_run_one(services, workflow, symbol, eid, params, json_output))
    if json_output:
        print_json(results[0].to_json() if len(results) == 1 else [r.to_json() for r in results])
    failed = [r.symbol for r in results if r.status != "FINISHED"]
    if failed:
        raise CliError(f"{len(failed)} of {len(results)} execution(s) failed: {', '.join(failed)}")


def _run_one(services, workflow: str, symbol: str, eid: str, params: dict, json_output: bool):
    """One execution with its progress lines; a failure is reported and returned, not raised."""
    from provenant.workflows import WorkflowFailed, run_workflow

    if not json_output:
        console.print(f"[bold]{workflow}[/bold] {symbol}  execution [cyan]{eid}[/cyan]",
                      highlight=False, soft_wrap=True)
    try:
        result = run_workflow(workflow, symbol, eid, services=services, params=params,
                              on_step=None if json_output else _show_step)
    except WorkflowFailed as exc:
        # Not "run marked FAILED": a tracker lost mid-run cannot be told (that is logged).
        console.print(f"[red]Error:[/red] {exc}; the execution FAILED in MLflow run "
                      f"{exc.result.run_id} ({len(exc.result.artifacts)} artifact(s) kept with "
                      "their lineage)",
                      highlight=False, soft_wrap=True)
        return exc.result
    if not json_output:
        _show_result(result)
    return result


_MARKS = {"succeeded": "[green]✓[/green]", "failed": "[red]✗[/red]",
          "retrying": "[yellow]↻[/yellow]"}


def _show_step(event) -> None:
    if event.status == "running":
        return
    seconds = f"{event.duration_ms / 1000:6.2f}s" if event.duration_ms is not None else ""
    detail = event.summary if event.status == "succeeded" else event.error or ""
    attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
    console.print(f"  {_MARKS[event.status]} {event.step:<22} {seconds}  {detail}{attempt}",
                  highlight=False, soft_wrap=True)


def _show_result(result) -> None:
    from provenant.config import get_settings
    from provenant.domain.lineage import Lineage, mlflow_run_url

    url = mlflow_run_url(get_settings().mlflow_ui_url,
                         Lineage(result.run_id, result.experiment_id))
    kinds = ", ".join(f"{a['type']} {a['id']}" for a in result.artifacts)
    console.print(f"  [green]{result.status}[/green] run {result.run_id} "
                  f"(experiment {result.experiment_id}): {kinds}\n  {url}",
                  highlight=False, soft_wrap=True)


@workflows_app.command("list")
def workflows_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The registered workflows and their steps."""
    from provenant.workflows import list_workflows

    workflows = list_workflows()
    if json_output:
        print_json([{"workflow_id": w.workflow_id, "description": w.description,
                     "steps": list(w.step_names)} for w in workflows])
        return
    for w in workflows:
        typer.echo(f"{w.workflow_id}: {w.description}")
        typer.echo("  steps: " + " -> ".join(w.step_names))
