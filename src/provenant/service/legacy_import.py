"""Import the previous system's artifacts: same ids, typed payloads, lineage kept where present."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from provenant.adapters.blobs import BlobStore, InvalidImage, sniff_image
from provenant.adapters.tracking import Tracker, TrackingUnavailable
from provenant.domain.artifacts import ArtifactType, NewArtifact
from provenant.domain.errors import describe_error
from provenant.domain.reports import ImportReport, RowProblem
from provenant.service.provenance import infer_imported_chains
from provenant.service.images import put_image
from provenant.store.legacy import LegacySource
from provenant.store.repository import ArtifactRepository, IntegrityError

_SPLIT_SIGNALS = ("order", "trade", "portfolio")  # stored as `signal` by the old system


class LegacyRowError(ValueError):
    """A legacy row that cannot become an artifact (the reason is the message)."""


@dataclass
class _Converted:
    artifact: NewArtifact
    image: bytes | None


@dataclass(frozen=True)
class _Target:
    """Where imported artifacts go."""

    repository: ArtifactRepository
    blobs: BlobStore
    tracker: Tracker


def import_legacy(repository: ArtifactRepository, blobs: BlobStore, tracker: Tracker,
                  source_url: str, *, images_root: Path | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  page_size: int = 500) -> ImportReport:
    """Copy the legacy `artifacts` table in, page by page; ids already present are skipped."""
    services = _Target(repository, blobs, tracker)
    source = LegacySource(source_url)
    report = ImportReport(source=source.label)
    try:
        report.total = source.count()
        done = 0
        for page in source.rows(page_size):
            present = services.repository.existing_ids(
                r["id"] for r in page if isinstance(r["id"], int))
            converted: list[_Converted] = []
            for row in page:
                if row["id"] in present:
                    report.skipped.append(row["id"])
                    continue
                try:
                    converted.append(_convert(services, row, images_root, report))
                except (LegacyRowError, ValidationError) as exc:
                    report.failed.append(RowProblem(id=row["id"],
                                                    reason=describe_error(exc, "row")))
            _insert(services, converted, report)
            done += len(page)
            if progress:
                progress(done, report.total)
        report.inferred_edges = infer_imported_chains(repository, report.imported)
    finally:
        source.close()
    return report


def _insert(services: _Target, converted: list[_Converted], report: ImportReport) -> None:
    """Blobs first (a row never points at nothing), then the rows in one transaction."""
    if not converted:
        return
    images = [_store_image(services, c.image) for c in converted]
    try:
        services.repository.add_many([c.artifact for c in converted], images)
    except IntegrityError:
        # Another import took some of these ids meanwhile: skip those, insert the rest.
        taken = services.repository.existing_ids(c.artifact.id for c in converted)
        report.skipped.extend(sorted(taken))
        keep = [i for i, c in enumerate(converted) if c.artifact.id not in taken]
        converted, images = [converted[i] for i in keep], [images[i] for i in keep]
        services.repository.add_many([c.artifact for c in converted], images)
    report.imported.extend(c.artifact.id for c in converted)


def _store_image(services: _Target, image: bytes | None) -> tuple[str | None, str | None]:
    return (None, None) if image is None else put_image(services.blobs, image)


def _convert(services: _Target, row: dict[str, Any], images_root: Path | None,
             report: ImportReport) -> _Converted:
    if not isinstance(row["id"], int) or row["id"] < 1:
        raise LegacyRowError(f"id {row['id']!r} is not a positive integer")
    kind = _text(row.get("type"))
    artifact_type, payload = _payload(kind, row)
    metadata = _json(row, "artifact_metadata")
    if metadata is not None:
        payload["artifact_metadata"] = metadata
    image_path = _text(row.get("image_path"))
    image = None
    if image_path:
        payload["legacy_image_path"] = image_path
        image = _read_image(image_path, images_root, row["id"], report)
    run_id, experiment_id = _lineage(services, row, payload, report)
    artifact = NewArtifact(
        id=row["id"], type=artifact_type,
        name=_text(row.get("name")) or f"legacy {kind} {row['id']}",
        symbol=_text(row.get("symbol")), workflow_id=_text(row.get("workflow_id")),
        execution_id=_text(row.get("execution_id")), step_name=_text(row.get("step_name")),
        dag_id=_text(row.get("dag_id")), task_id=_text(row.get("task_id")),
        run_id=run_id, experiment_id=experiment_id, payload=payload,
        created_at=_datetime(row.get("created_at")))
    return _Converted(artifact, image)


def _payload(kind: str | None, row: dict[str, Any]) -> tuple[ArtifactType, dict[str, Any]]:
    """The wide legacy columns of one type, as that type's payload."""
    if kind == "llm":
        return ArtifactType.llm, _present(
            prompt=row.get("prompt"), response=row.get("response"),
            model_name=row.get("model_name"), prompt_length=row.get("prompt_length"),
            response_length=row.get("response_length"))
    if kind == "chart":
        return ArtifactType.chart, _present(chart_type=row.get("chart_type"),
                                            chart_data=_json(row, "chart_data"))
    if kind == "signal":
        data = _json(row, "signal_data")
        data = data if isinstance(data, dict) else ({} if data is None else {"value": data})
        subtype = data.get("artifact_type")
        if subtype in _SPLIT_SIGNALS:
            return ArtifactType(subtype), _split_signal(subtype, row, data)
        return ArtifactType.signal, _present(action=_upper(row.get("action")),
                                             confidence=row.get("confidence"),
                                             signal_data=data or None)
    raise LegacyRowError(f"unknown legacy type {kind!r} (expected llm, chart or signal)")


def _split_signal(subtype: str, row: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """An order, trade or portfolio snapshot the old system kept in signal_data."""
    rest = {k: v for k, v in data.items() if k != "artifact_type"}
    if row.get("confidence") is not None:
        rest.setdefault("confidence", row["confidence"])
    side = _upper(_first(rest, "side", "action") or row.get("action"))
    if subtype == "order":
        return {**rest, **_present(
            side=side, quantity=_first(rest, "quantity", "total_quantity", "totalQuantity", "qty"),
            order_type=_first(rest, "order_type", "orderType"))}
    if subtype == "trade":
        return {**rest, **_present(
            side=side, quantity=_first(rest, "quantity", "filled_quantity", "shares", "qty"),
            price=_first(rest, "price", "fill_price", "avg_fill_price", "avg_price"))}
    return {**rest, "positions": rest.get("positions") or []}


def _lineage(services: _Target, row: dict[str, Any], payload: dict[str, Any],
             report: ImportReport) -> tuple[str | None, str | None]:
    """Keep lineage the row had; a run id without its experiment is completed from MLflow."""
    run_id, experiment_id = _text(row.get("run_id")), _text(row.get("experiment_id"))
    if run_id and experiment_id:
        return run_id, experiment_id
    if not run_id:
        if experiment_id:
            payload["legacy_experiment_id"] = experiment_id
        return None, None
    try:
        run = services.tracker.get_run(run_id)
    except TrackingUnavailable as exc:
        run, why = None, f"tracking unavailable ({exc})"
    else:
        why = "no such MLflow run"
    if run is not None:
        return run_id, run.experiment_id
    payload["legacy_run_id"] = run_id  # kept, not trusted: the repair job may find the run
    report.warnings.append(RowProblem(id=row["id"], reason=f"run_id {run_id} kept in payload "
                                                           f"only: {why}"))
    return None, None


def _read_image(path: str, root: Path | None, artifact_id: int,
                report: ImportReport) -> bytes | None:
    """The chart image, if the file exists and really is an image; else a warning."""
    file = Path(path).expanduser()
    if not file.is_absolute() and root is not None:
        file = root / file
    try:
        data = file.read_bytes()
        sniff_image(data)
        return data
    except (OSError, InvalidImage) as exc:
        report.warnings.append(RowProblem(id=artifact_id, reason=f"image {path} not imported: "
                                f"{exc.strerror if isinstance(exc, OSError) else exc}"))
        return None


def _json(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if not isinstance(value, str | bytes):
        return value  # PostgreSQL json/jsonb columns arrive decoded
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise LegacyRowError(f"{column} is not valid JSON") from None


def _datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise LegacyRowError(f"created_at {value!r} is not a timestamp") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # the old system wrote UTC


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _upper(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) else value


def _first(data: dict[str, Any], *keys: str) -> Any:
    return next((data[k] for k in keys if data.get(k) is not None), None)


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
