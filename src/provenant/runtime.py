"""Use cases bound to the composition root's services: what the entrypoints (CLI, Airflow
tasks, the HTTP app, the public Python API) call, so each binds them the same way."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from provenant.bootstrap import Services
from provenant.config import Settings
from provenant.domain.provenance import Provenance
from provenant.domain.reports import ImportReport, RepairReport, VerifyReport
from provenant.lineage.hydration import Hydrator
from provenant.lineage.repair import repair_lineage
from provenant.lineage.resolve import Resolver
from provenant.lineage.verify import verify_lineage
from provenant.service.evidence import ExportReport, export_bundle
from provenant.service.legacy_import import Parts, import_legacy
from provenant.service.provenance import provenance as walk_provenance
from provenant.service.storing import ArtifactWriter


def resolver(services: Services) -> Resolver:
    """The one resolver: claims, then MLflow."""
    return Resolver(services.tracker, services.execution_runs)


def writer(services: Services) -> ArtifactWriter:
    """The store path."""
    return ArtifactWriter(services.artifacts, services.blobs, services.tracker,
                          services.execution_runs)


def hydrator(services: Services) -> Hydrator:
    """A read-time hydrator with the settings' deadline and miss memory."""
    settings = services.settings
    return Hydrator(resolver(services), services.artifacts,
                    timeout_seconds=settings.hydration_timeout_seconds,
                    miss_ttl_seconds=settings.hydration_miss_ttl_seconds)


def repair(services: Services, **options: Any) -> RepairReport:
    """One repair pass (options: dry_run, workflow_id, batch_size, progress)."""
    options.setdefault("batch_size", services.settings.repair_batch_size)
    return repair_lineage(services.artifacts, resolver(services), **options)


def verify(services: Services, deep: bool = False) -> VerifyReport:
    """Check every stored lineage against MLflow, and every content hash and run manifest
    (`deep`: read every run's manifest file, not its inline copy)."""
    return verify_lineage(services.artifacts, services.tracker, services.blobs, deep)


def import_rows(services: Services, source_url: str, **options: Any) -> ImportReport:
    """Import the previous system's artifacts table (s3:// images via PROVENANT_S3_ENDPOINT_URL;
    options: those of `import_legacy`)."""
    options.setdefault("s3_endpoint_url", services.settings.s3_endpoint_url)
    return import_legacy(services.artifacts, services.blobs, services.tracker, source_url,
                         open_parts=partial(import_parts, services.settings), **options)


def import_parts(settings: Settings) -> Parts:
    """The repository, blob store and tracker of an import's page worker (its own process)."""
    services = Services(settings)
    return services.artifacts, services.blobs, services.tracker


def provenance(services: Services, artifact_id: int, direction: str = "up") -> Provenance:
    """An artifact's decision chain (up: what it came from; down: what came from it)."""
    return walk_provenance(services.artifacts, services.blobs, artifact_id, direction,
                           services.settings.mlflow_ui_url)


def export_evidence(services: Services, artifact_id: int, path: Path) -> ExportReport:
    """Write the evidence bundle of an artifact's decision chain to a zip."""
    return export_bundle(services.artifacts, services.blobs, services.tracker, artifact_id,
                         path, services.settings.mlflow_ui_url)
