"""`provenant artifacts ...`: bring in the previous system's artifacts."""
from __future__ import annotations

import sys
from pathlib import Path

import typer

from provenant import runtime
from provenant.bootstrap import get_services
from provenant.cli.app import CliError, app, console
from provenant.cli.lineage import progress_bar
from provenant.cli.streaming import streamed_report
from provenant.domain.reports import ImportReport, ReportSink, Sample

artifacts_app = typer.Typer(no_args_is_help=True, help="Artifacts.")
app.add_typer(artifacts_app, name="artifacts")


def _path_map(items: list[str] | None) -> list[tuple[str, str]]:
    from provenant.service.legacy_images import parse_path_map

    try:
        return parse_path_map(items or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--image-path-map") from None


def _fetch_prefixes(items: list[str] | None) -> list[str]:
    from provenant.service.legacy_images import check_fetch_prefixes

    try:
        return check_fetch_prefixes(items or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fetch-images-from") from None


@artifacts_app.command("import-legacy")
def import_legacy_command(
        source: str = typer.Option(..., "--from", metavar="DB_URL",
                                   help="The previous system's database (postgresql://..., "
                                        "postgresql+psycopg2://... or sqlite:///path)."),
        images_root: Path | None = typer.Option(
            None, "--images-root", help="Folder that relative image_path values start from "
                                        "(default: the current folder)."),
        image_path_map: list[str] | None = typer.Option(
            None, "--image-path-map", metavar="OLD=NEW",
            help="Read image paths (or URLs) under OLD from NEW (repeatable): a folder, e.g. "
                 "/app/charts=/srv/old-charts, or a URL prefix that is then fetched, e.g. "
                 "http://minio:9000/trading-charts=s3://trading-charts."),
        fetch_images_from: list[str] | None = typer.Option(
            None, "--fetch-images-from", metavar="URL_PREFIX",
            help="Fetch image URLs under this prefix (repeatable): http(s), e.g. "
                 "http://minio:9000/trading-charts/, or s3://bucket/prefix (the s3 extra; "
                 "endpoint from PROVENANT_S3_ENDPOINT_URL)."),
        dry_run: bool = typer.Option(False, "--dry-run",
                                     help="Check every row and report; write nothing."),
        workers: int | None = typer.Option(
            None, "--workers", min=0, max=32,
            help="Processes reading, converting and writing pages at once (0: all in this "
                 "one; default: one per CPU, up to 4, from 50,000 rows)."),
        as_json: bool = typer.Option(False, "--json", help="JSON report on stdout.")) -> None:
    """Import the legacy `artifacts` table, keeping ids (exit 1 if any row failed)."""
    from provenant.adapters.s3_objects import S3ExtraMissing
    from provenant.store.legacy import LegacySourceError

    options = {"images_root": images_root or Path.cwd(),
               "image_path_map": _path_map(image_path_map),
               "fetch_prefixes": _fetch_prefixes(fetch_images_from), "dry_run": dry_run,
               "workers": workers}
    try:
        if as_json:  # streamed as it is written: the table may hold millions of rows
            with streamed_report(sys.stdout, "imported", ("skipped", "failed", "warnings"),
                                 {"dry_run": dry_run}) as stream:
                failures = Sample(ImportReport(source=source), keep=_SHOWN)
                report = _import(source, options, _Tee(stream, failures))
                stream.finish(report.to_dict())
            counts = stream.counts
        else:
            failures = Sample(ImportReport(source=source), keep=_SHOWN)
            report = _import(source, options, failures)
            counts = failures.counts
            _print_import(report, failures.report, counts)
    except (LegacySourceError, S3ExtraMissing) as exc:
        raise CliError(str(exc)) from None
    if counts["failed"]:
        conflicts = [str(f.id) for f in failures.report.failed
                     if f.reason.startswith("conflict")]
        raise CliError(f"{counts['failed']} legacy row(s) could not be imported"
                       + (f"; ids held by different artifacts: {', '.join(conflicts)}"
                          + (" (first ones)" if counts["failed"] > _SHOWN else "")
                          if conflicts else ""))


_SHOWN = 200  # failed rows and warnings listed by id for a person (--json lists them all)


class _Tee:
    """The JSON stream gets every item; a sample keeps the first failures for the message."""

    def __init__(self, stream: ReportSink, sample: ReportSink) -> None:
        self.stream, self.sample = stream, sample
        self.counts = stream.counts

    def add(self, key: str, item) -> None:
        self.stream.add(key, item)
        if key == "failed":
            self.sample.add(key, item)


def _import(source: str, options: dict, sink: ReportSink) -> ImportReport:
    with progress_bar() as update:
        return runtime.import_rows(
            get_services(), source, sink=sink,
            progress=update and (lambda done, total: update("import", done, total)), **options)


def _print_import(report: ImportReport, sample: ImportReport, counts) -> None:
    verb = "would import" if report.dry_run else "imported"
    console.print(f"{report.source}: {report.total} rows; {verb} {counts['imported']}, "
                  f"skipped {counts['skipped']} (already imported), failed {counts['failed']}, "
                  f"warnings {counts['warnings']}", highlight=False)
    for line in ([f"row {f.id} not imported: {f.reason}" for f in sample.failed]
                 + [f"row {w.id}: {w.reason}" for w in sample.warnings]):
        console.print(f"  {line}", highlight=False)
    hidden = sum(max(counts[k] - _SHOWN, 0) for k in ("failed", "warnings"))
    if hidden:
        console.print(f"  ... and {hidden} more (--json lists every one)", highlight=False)
