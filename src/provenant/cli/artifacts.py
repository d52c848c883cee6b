"""`provenant artifacts ...`: bring in the previous system's artifacts."""
from __future__ import annotations

from pathlib import Path

import typer
from provenant.bootstrap import get_services
from provenant.cli.app import CliError, app, console, print_json
from provenant.cli.lineage import progress_bar

artifacts_app = typer.Typer(no_args_is_help=True, help="Artifacts.")
app.add_typer(artifacts_app, name="artifacts")


@artifacts_app.command("import-legacy")
def import_legacy_command(
        source: str = typer.Option(..., "--from", metavar="DB_URL",
                                   help="The previous system's database (postgresql+psycopg://"
                                        "... or sqlite:///path)."),
        images_root: Path | None = typer.Option(
            None, "--images-root", help="Folder that relative image_path values start from "
                                        "(default: the current folder)."),
        as_json: bool = typer.Option(False, "--json", help="JSON report on stdout.")) -> None:
    """Import the legacy `artifacts` table, keeping ids (exit 1 if any row failed)."""
    from provenant.legacy import import_legacy
    from provenant.store.legacy import LegacySourceError

    try:
        with progress_bar() as update:
            report = import_legacy(
                get_services(), source, images_root=images_root or Path.cwd(),
                progress=update and (lambda done, total: update("import", done, total)))
    except LegacySourceError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        print_json(report.to_dict())
    else:
        _print_summary(report)
    if report.failed:
        raise CliError(f"{len(report.failed)} legacy row(s) could not be imported")


def _print_summary(report) -> None:
    console.print(f"{report.source}: {report.total} rows; imported {len(report.imported)}, "
                  f"skipped {len(report.skipped)} (already present), "
                  f"failed {len(report.failed)}", highlight=False)
    for failure in report.failed:
        console.print(f"  row {failure['id']} not imported: {failure['reason']}",
                      highlight=False)
    for warning in report.warnings:
        console.print(f"  row {warning['id']}: {warning['message']}", highlight=False)
