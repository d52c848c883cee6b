"""`provenant artifacts ...`: bring in the previous system's artifacts."""
from __future__ import annotations

from pathlib import Path

import typer

from provenant import runtime
from provenant.bootstrap import get_services
from provenant.cli.app import CliError, app, print_report
from provenant.cli.lineage import progress_bar

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
        as_json: bool = typer.Option(False, "--json", help="JSON report on stdout.")) -> None:
    """Import the legacy `artifacts` table, keeping ids (exit 1 if any row failed)."""
    from provenant.adapters.s3_objects import S3ExtraMissing
    from provenant.store.legacy import LegacySourceError

    path_map, prefixes = _path_map(image_path_map), _fetch_prefixes(fetch_images_from)
    try:
        with progress_bar() as update:
            report = runtime.import_rows(
                get_services(), source, images_root=images_root or Path.cwd(),
                image_path_map=path_map, fetch_prefixes=prefixes,
                dry_run=dry_run,
                progress=update and (lambda done, total: update("import", done, total)))
    except (LegacySourceError, S3ExtraMissing) as exc:
        raise CliError(str(exc)) from None
    verb = "would import" if dry_run else "imported"
    print_report(report, as_json,
                 f"{report.source}: {report.total} rows; {verb} {len(report.imported)}, "
                 f"skipped {len(report.skipped)} (already imported), "
                 f"failed {len(report.failed)}, warnings {len(report.warnings)}",
                 [f"row {f.id} not imported: {f.reason}" for f in report.failed]
                 + [f"row {w.id}: {w.reason}" for w in report.warnings])
    if report.failed:
        conflicts = [str(f.id) for f in report.failed if f.reason.startswith("conflict")]
        raise CliError(f"{len(report.failed)} legacy row(s) could not be imported"
                       + (f"; ids held by different artifacts: {', '.join(conflicts)}"
                          if conflicts else ""))
