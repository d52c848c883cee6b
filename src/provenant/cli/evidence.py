"""`provenant evidence ...`: export an artifact's decision chain as a zip, verify one offline."""
from __future__ import annotations

from pathlib import Path

import typer

from provenant import runtime
from provenant.bootstrap import get_services
from provenant.cli.app import CliError, app, console, print_report
from provenant.service.evidence import EvidenceError, verify_bundle

evidence_app = typer.Typer(no_args_is_help=True,
                           help="Evidence bundles: why an artifact exists, checkable offline.")
app.add_typer(evidence_app, name="evidence")


@evidence_app.command("export")
def export(artifact_id: int = typer.Argument(..., min=1, help="The artifact (e.g. an order)."),
           output: Path = typer.Option(..., "-o", "--output", help="The zip to write."),
           as_json: bool = typer.Option(False, "--json", help="JSON report on stdout.")) -> None:
    """Write the artifact's upstream chain, hashes, MLflow runs and audit rows to a zip."""
    try:
        report = runtime.export_evidence(get_services(), artifact_id, output)
    except PermissionError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror}") from None
    print_report(report, as_json,
                 f"wrote {report.path}: {report.artifacts} artifact(s), {report.runs} MLflow "
                 f"run(s), {report.files} files",
                 [f"artifact {i} had already changed since it was stored: the bundle shows it"
                  for i in report.changed])


@evidence_app.command("verify")
def verify(bundle: Path = typer.Argument(..., help="An evidence zip."),
           as_json: bool = typer.Option(False, "--json", help="JSON report on stdout.")) -> None:
    """Re-check every hash in a bundle offline; exit 1 naming what changed."""
    try:
        check = verify_bundle(bundle)
    except EvidenceError as exc:
        raise CliError(str(exc)) from None
    print_report(check, as_json,
                 f"{check.path}: {check.files} files and {check.artifacts} artifact(s) of the "
                 f"chain of artifact {check.artifact_id} checked",
                 [*check.problems, *(f"artifact {i} has no content hash (stored before hashes "
                                     "were recorded): unverifiable" for i in check.unverifiable)])
    if not check.ok:
        raise CliError(f"{len(check.problems)} problem(s): " + "; ".join(check.problems[:5]))
    if not as_json:
        console.print("bundle verified: nothing changed", highlight=False)
