"""Evidence bundles: the decision chain of an artifact in one zip, checkable offline.

Layout: `manifest.json` (every file's SHA-256, every artifact's content hash, the edges),
`artifacts/<id>.json`, `images/<id>.<ext>`, `runs/<run_id>.json` (the MLflow run's params,
metrics and tags), `runs/<run_id>/manifest.json` (the run's own manifest, when logged),
`audit.json` (lineage repair/attach rows), `revisions.json` (recorded content revisions: old
hash, new hash, what changed, when) and `index.html` (for people, offline).
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from provenant.adapters.blobs import BlobStore, key_for
from provenant.adapters.tracking import Tracker
from provenant.domain.provenance import (
    RUN_MANIFEST_PATH, ContentRevision, content_hash, revision_problems, sha256_hex)
from provenant.domain.reports import Report
from provenant.service.evidence_page import render_index
from provenant.service.images import read_image
from provenant.service.provenance import provenance
from provenant.store.repository import ArtifactRepository

FORMAT = "provenant-evidence"
VERSION = 1
MANIFEST = "manifest.json"
REVISIONS = "revisions.json"


class EvidenceError(ValueError):
    """A bundle that cannot be read at all (not a zip, truncated, no manifest)."""


class ExportReport(Report):
    """What went into a bundle."""

    path: str
    artifact_id: int
    artifacts: int
    runs: int
    files: int
    changed: list[int]  # artifacts already changed when exported (the bundle shows it)


class BundleCheck(Report):
    """An offline check of a bundle: `problems` names every file or artifact that changed."""

    path: str
    artifact_id: int | None = None
    artifacts: int = 0
    files: int = 0
    problems: list[str] = []
    unverifiable: list[int] = []

    @property
    def ok(self) -> bool:
        return not self.problems


def _json_bytes(value) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode()


def export_bundle(repository: ArtifactRepository, blobs: BlobStore, tracker: Tracker,
                  artifact_id: int, path: Path, mlflow_ui_url: str = "") -> ExportReport:
    """Write the upstream chain of an artifact to a zip (atomically: all or nothing)."""
    chain = provenance(repository, blobs, artifact_id, "up", mlflow_ui_url)
    revised = repository.revisions(n.id for n in chain.nodes)
    files: dict[str, bytes] = {}
    entries = []
    for node in chain.nodes:
        artifact = repository.get(node.id)
        record = artifact.model_dump(mode="json")
        record["inputs"] = [e.input_id for e in chain.edges if e.artifact_id == node.id]
        files[f"artifacts/{node.id}.json"] = _json_bytes(record)
        image = None
        if artifact.has_image:
            key = key_for(artifact.image_sha256, artifact.image_content_type)
            image = f"images/{node.id}.{key.rpartition('.')[2]}"
            files[image] = read_image(repository, blobs, node.id)[0]
        entries.append({"id": node.id, "type": node.type, "name": node.name,
                        "content_sha256": node.content_sha256, "image": image,
                        "image_sha256": artifact.image_sha256,
                        "verification_at_export": node.verification.value,
                        "revisions": len(revised.get(node.id, [])),
                        "file": f"artifacts/{node.id}.json"})
    runs = _run_files(tracker, sorted({n.run_id for n in chain.nodes if n.run_id}), files)
    audit = [r.model_dump(mode="json") for n in chain.nodes for r in repository.repairs(n.id)]
    files["audit.json"] = _json_bytes(audit)
    revisions = [r.model_dump(mode="json") for n in chain.nodes for r in revised.get(n.id, [])]
    files[REVISIONS] = _json_bytes(revisions)
    files["index.html"] = render_index(chain, files, runs, audit, revisions).encode()
    manifest = {"format": FORMAT, "version": VERSION, "artifact_id": artifact_id,
                "exported_at": datetime.now(UTC).isoformat(), "artifacts": entries,
                "edges": [e.model_dump() for e in chain.edges], "runs": runs,
                "truncated": chain.truncated,
                "files": {name: sha256_hex(data) for name, data in sorted(files.items())}}
    _write_zip(path, {MANIFEST: _json_bytes(manifest), **files})
    return ExportReport(path=str(path), artifact_id=artifact_id, artifacts=len(entries),
                        runs=len(runs), files=len(files) + 1,
                        changed=[n.id for n in chain.nodes if n.verification == "changed"])


def _run_files(tracker: Tracker, run_ids: list[str], files: dict[str, bytes]) -> list[dict]:
    """Each run's record (and its own manifest, when it has one) as bundle files."""
    runs = []
    for run_id in run_ids:
        record = tracker.run_record(run_id)
        entry = {"run_id": run_id, "file": f"runs/{run_id}.json", "exists": record is not None}
        files[entry["file"]] = _json_bytes(
            None if record is None else {"run_id": record.run_id,
                                         "experiment_id": record.experiment_id,
                                         "status": record.status, "params": record.params,
                                         "metrics": record.metrics, "tags": record.tags})
        manifest = tracker.run_file(run_id, RUN_MANIFEST_PATH) if record is not None else None
        if manifest is not None:
            entry["manifest"] = f"runs/{run_id}/manifest.json"
            files[entry["manifest"]] = manifest
        runs.append(entry)
    return runs


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    """A temporary zip beside the target, renamed over it when complete."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist")
    if path.is_dir():
        raise EvidenceError(f"{path} is a folder: give the zip file's name")
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, data in files.items():
                bundle.writestr(name, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def verify_bundle(path: Path) -> BundleCheck:
    """Re-check every file hash and content hash of a bundle, offline."""
    try:
        with zipfile.ZipFile(path) as bundle:
            return _check(bundle, BundleCheck(path=str(path)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise EvidenceError(f"{path} is not a readable evidence bundle ({exc})") from None
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise EvidenceError(f"{path} cannot be opened ({exc.strerror})") from None


def _check(bundle: zipfile.ZipFile, check: BundleCheck) -> BundleCheck:
    manifest = _manifest(bundle)
    listed: dict[str, str] = manifest["files"]
    check.artifact_id, check.files = manifest.get("artifact_id"), len(listed)
    contents: dict[str, bytes] = {}
    for name, expected in listed.items():
        try:
            contents[name] = bundle.read(name)
        except KeyError:
            check.problems.append(f"{name} is missing from the bundle")
            continue
        except (zipfile.BadZipFile, EOFError, OSError):
            check.problems.append(f"{name} is damaged (its zip checksum fails)")
            continue
        if sha256_hex(contents[name]) != expected:
            check.problems.append(f"{name} changed: its SHA-256 is not the manifest's")
    check.problems.extend(f"{name} is not listed in the manifest" for name in bundle.namelist()
                          if name != MANIFEST and name not in listed)
    revisions = _revisions(contents, check)
    for entry in manifest["artifacts"]:
        check.artifacts += 1
        _check_artifact(entry, contents, check)
        check.problems.extend(
            f"artifact {entry.get('id')}: {problem}" for problem in
            revision_problems(entry.get("content_sha256"), revisions.get(entry.get("id"), [])))
    return check


def _revisions(contents: dict[str, bytes],
               check: BundleCheck) -> dict[int, list[ContentRevision]]:
    """The bundle's recorded revisions by artifact, oldest first (none in older bundles)."""
    if REVISIONS not in contents:
        return {}
    try:
        rows = [ContentRevision.model_validate(r) for r in json.loads(contents[REVISIONS])]
    except (ValueError, TypeError):
        check.problems.append(f"{REVISIONS} is not a list of content revisions")
        return {}
    found: dict[int, list[ContentRevision]] = {}
    for row in rows:
        found.setdefault(row.artifact_id, []).append(row)
    return found


def _manifest(bundle: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(bundle.read(MANIFEST))
    except KeyError:
        raise EvidenceError(
            f"{bundle.filename} has no {MANIFEST}: not an evidence bundle") from None
    except ValueError:
        raise EvidenceError(f"{bundle.filename}: {MANIFEST} is not valid JSON") from None
    if not (isinstance(manifest, dict) and manifest.get("format") == FORMAT
            and isinstance(manifest.get("files"), dict)
            and all(isinstance(v, str) for v in manifest["files"].values())
            and isinstance(manifest.get("artifacts"), list)
            and all(isinstance(a, dict) for a in manifest["artifacts"])):
        raise EvidenceError(f"{bundle.filename}: {MANIFEST} is not a {FORMAT} manifest")
    return manifest


def _check_artifact(entry: dict, contents: dict[str, bytes], check: BundleCheck) -> None:
    """The artifact's JSON still hashes to its recorded content hash, its image to its hash."""
    artifact_id = entry.get("id")
    raw = contents.get(entry.get("file", ""))
    if raw is None:
        return  # already reported as a missing or damaged file
    try:
        record = json.loads(raw)
        recomputed = content_hash(record["type"], record["name"], record.get("symbol"),
                                  record["payload"], record.get("image_sha256"))
    except (ValueError, KeyError, TypeError):
        check.problems.append(f"artifact {artifact_id}: {entry['file']} is not an artifact")
        return
    recorded = entry.get("content_sha256")
    if recorded is None:
        check.unverifiable.append(artifact_id)
    elif recomputed != recorded or record.get("content_sha256") != recorded:
        check.problems.append(f"artifact {artifact_id} ({entry.get('type')} "
                              f"{entry.get('name')!r}): its content does not match its "
                              "content_sha256")
    image = entry.get("image")
    if image and image in contents and sha256_hex(contents[image]) != entry.get("image_sha256"):
        check.problems.append(f"artifact {artifact_id}: image {image} does not match its sha256")


__all__ = ["BundleCheck", "EvidenceError", "ExportReport", "export_bundle", "verify_bundle"]
