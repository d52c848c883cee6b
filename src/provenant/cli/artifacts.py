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
    from provenant.store.legacy import LegacySourceError

    try:
        with progress_bar() as update:
            report = runtime.import_rows(
                get_services(), source, images_root=images_root or Path.cwd(),
                progress=update and (lambda done, total: update("import", done, total)))
    except LegacySourceError as exc:
        raise CliError(str(exc)) from None
    print_report(report, as_json,
                 f"{report.source}: {report.total} rows; imported {len(report.imported)}, "
                 f"skipped {len(report.skipped)} (already present), "
                 f"failed {len(report.failed)}",
                 [f"row {f.id} not imported: {f.reason}" for f in report.failed]
                 + [f"row {w.id}: {w.reason}" for w in report.warnings])
    if report.failed:
        raise CliError(f"{len(report.failed)} legacy row(s) could not be imported")
