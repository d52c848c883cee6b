"""`provenant lineage ...`: repair missing lineage, read the audit log, verify lineage."""
from __future__ import annotations

import logging
import sys
from collections import Counter
from contextlib import contextmanager

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from provenant import runtime
from provenant.bootstrap import get_services
from provenant.cli.app import CliError, app, console, print_report
from provenant.cli.streaming import streamed_report
from provenant.domain.reports import RepairLog, RepairReport, ReportSink, Sample

lineage_app = typer.Typer(no_args_is_help=True, help="MLflow lineage of artifacts.")
app.add_typer(lineage_app, name="lineage")

_STAGES = {"scan": "finding artifacts without lineage", "resolve": "matching executions to runs",
           "update": "writing lineage", "import": "importing legacy artifacts"}


class _ConsoleHandler(logging.Handler):
    """Log lines on the stderr console: above a progress bar, one unwrapped line each."""

    def emit(self, record: logging.LogRecord) -> None:
        console.print(self.format(record), soft_wrap=True, highlight=False, markup=False)


@contextmanager
def _log_lineage_events():
    """Show the provenant.lineage log lines (one per repaired artifact) on stderr."""
    logger = logging.getLogger("provenant.lineage")
    # Rich only on a terminal (to print above the progress bar): piped, a million lines
    # through rich would cost more than the repair itself.
    handler = (_ConsoleHandler() if console.is_terminal
               else logging.StreamHandler(console.file))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextmanager
def progress_bar():
    """A callback (stage, done, total): a rich bar on a terminal (stderr), else None."""
    if not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, description=_STAGES.get(stage, stage), completed=done, total=total)

        yield update


@lineage_app.command("repair")
def repair(dry_run: bool = typer.Option(False, "--dry-run", help="Report, write nothing."),
           workflow_id: str | None = typer.Option(None, "--workflow-id",
                                                  help="Only this workflow's artifacts."),
           as_json: bool = typer.Option(False, "--json", help="JSON report on stdout.")) -> None:
    """Fill in missing lineage from MLflow (exit 1 when anything went wrong)."""
    options = {"dry_run": dry_run, "workflow_id": workflow_id}
    if as_json:  # streamed as it is written: the backlog may be millions of artifacts
        with streamed_report(sys.stdout, "repaired", ("unresolved", "skipped"),
                             {"dry_run": dry_run}) as sink:
            report = _repair(options, sink)
            sink.finish(report.to_dict())
    else:
        sink = Sample(RepairReport(), keep=50)
        report = _repair(options, sink)
        _print_repair(report, sink.report, sink.counts)
    if not report.ok:
        raise CliError("lineage repair: " + "; ".join(report.errors))


def _repair(options: dict, sink: ReportSink) -> RepairReport:
    with _log_lineage_events(), progress_bar() as progress:
        return runtime.repair(get_services(), progress=progress, sink=sink, **options)


def _print_repair(report: RepairReport, sample: RepairReport, counts: Counter[str]) -> None:
    verb = "would repair" if report.dry_run else "repaired"
    console.print(
        f"scanned {report.scanned} artifacts over {report.executions} executions; "
        f"{verb} {counts['repaired']}, unresolved {counts['unresolved']}, already "
        f"repaired by another writer {counts['skipped']} ({report.tracking_calls} "
        "tracking calls)", highlight=False)
    for item in sample.repaired:
        console.print(f"  {verb} artifact {item.artifact_id}: run {item.run_id} "
                      f"(experiment {item.experiment_id})", highlight=False)
    if counts["unresolved"]:
        console.print(f"  no run found for artifacts "
                      f"{_ids(sample.unresolved, counts['unresolved'])}", highlight=False)


@lineage_app.command("repairs")
def repairs(artifact_id: int | None = typer.Option(None, "--artifact-id", min=1),
            limit: int = typer.Option(1000, "--limit", min=1, max=100_000),
            as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")) -> None:
    """The lineage audit log (newest first): which artifact got which run, how and when."""
    log = RepairLog(items=get_services().artifacts.repairs(artifact_id, limit=limit))
    print_report(log, as_json, f"{len(log.items)} lineage repair(s) recorded"
                 if log.items else "no lineage repairs recorded",
                 [f"{r.repaired_at.isoformat()}  artifact {r.artifact_id}  run {r.run_id}  "
                  f"experiment {r.experiment_id}  ({r.source})" for r in log.items])


@lineage_app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="JSON report on stdout."),
           deep: bool = typer.Option(
               False, "--deep", help="Read every run's manifest file from MLflow's artifact "
                                     "store (one request per run) instead of trusting its "
                                     "inline tag copy; catches an edited file.")) -> None:
    """Check stored lineage against MLflow, content against its hash and the run's manifest,
    and decision chains for missing links; exit 1 on any problem."""
    report = runtime.verify(get_services(), deep)
    print_report(report, as_json,
                 f"checked {report.checked} artifacts against {report.runs} runs "
                 f"({report.tracking_calls} tracking calls): "
                 f"{len(report.mismatches)} mismatch(es); {report.revised} revised by "
                 "recorded PATCHes or image uploads (explained)",
                 [f"artifact {m.artifact_id}"
                  + (f" -> run {m.run_id}" if m.run_id else "") + f" ({m.check} check): {m.problem}"
                  for m in report.mismatches])
    if report.errors:
        raise CliError("lineage verify: " + "; ".join(report.errors))
    if report.mismatches:
        checks = sorted({m.check for m in report.mismatches})
        raise CliError(f"{len(report.mismatches)} problem(s) found by the {', '.join(checks)} "
                       "check(s)")


def _ids(ids: list[int], total: int, shown: int = 20) -> str:
    head = ", ".join(map(str, ids[:shown]))
    return head + (f" and {total - min(shown, len(ids))} more" if total > shown else "")
