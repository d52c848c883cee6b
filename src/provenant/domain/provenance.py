"""The decision chain: content hashes, derivation edges and provenance reports (no I/O)."""
from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from provenant.domain.reports import Report

HASH_VERSION = "v1"  # part of what is hashed: a new canonical form never matches an old hash


class Verification(StrEnum):
    verified = "verified"          # the stored content still hashes to its content_sha256
    changed = "changed"            # it does not (or its image bytes do not)
    unverifiable = "unverifiable"  # stored before hashing existed: nothing to compare with


# Built once: json.dumps with options builds an encoder per call, which shows at import scale.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """One byte form per JSON value: sorted keys, no spaces, UTF-8, no NaN."""
    return _CANONICAL.encode(value).encode()


def content_hash(artifact_type: str, name: str, symbol: str | None,
                 payload: Mapping[str, Any], image_sha256: str | None) -> str:
    """SHA-256 over the canonical JSON of an artifact's content (and its image's hash)."""
    return hash_with_payload_json(artifact_type, name, symbol, canonical_payload(payload),
                                  image_sha256)


def canonical_payload(payload: Mapping[str, Any], json_native: bool = False) -> str:
    """A payload's canonical JSON text. It goes through JSON first, as the database keeps it
    (tuples become lists, keys strings), unless the caller knows it is `json_native` already
    (a validated payload: `validate_payload` dumps in JSON mode)."""
    return _CANONICAL.encode(payload if json_native else json.loads(json.dumps(payload)))


def hash_with_payload_json(artifact_type: str, name: str, symbol: str | None,
                           payload_json: str, image_sha256: str | None) -> str:
    """`content_hash` of a payload given as its canonical JSON text (so a bulk writer can store
    the text it hashed): the canonical form of the content object, its keys in sorted order."""
    text = "".join((
        '{"image_sha256":', _scalar(image_sha256), ',"name":', _scalar(name),
        ',"payload":', payload_json, ',"symbol":', _scalar(symbol),
        ',"type":', _scalar(str(artifact_type)), ',"v":', _scalar(HASH_VERSION), "}"))
    return hashlib.sha256(text.encode()).hexdigest()


def _scalar(value: str | None) -> str:
    # What the canonical encoder writes for a string (ensure_ascii=False) or None.
    return "null" if value is None else encode_basestring(value)


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of some bytes, as hex."""
    return hashlib.sha256(data).hexdigest()


class Edge(BaseModel):
    """`artifact_id` was derived from `input_id`; `inferred` edges were guessed later."""

    artifact_id: int
    input_id: int
    inferred: bool = False


class NodeLineage(BaseModel):
    status: str
    mlflow_run_url: str | None = None


class ProvenanceNode(BaseModel):
    """One artifact of a chain, with where it came from and whether it is unchanged."""

    id: int
    type: str
    name: str
    symbol: str | None
    step_name: str | None
    workflow_id: str | None
    execution_id: str | None
    run_id: str | None
    experiment_id: str | None
    created_at: datetime
    depth: int = Field(description="links from the artifact asked about (0 = itself)")
    lineage: NodeLineage
    content_sha256: str | None
    verification: Verification
    problems: list[str] = Field(default_factory=list, description="what changed, in words")


class Provenance(Report):
    """The chain up (what an artifact was derived from) or down (what was derived from it)."""

    artifact_id: int
    direction: Literal["up", "down"]
    nodes: list[ProvenanceNode]
    edges: list[Edge]
    truncated: bool = Field(False, description="the walk stopped at its bound")

    @property
    def ok(self) -> bool:
        return all(n.verification != Verification.changed for n in self.nodes)


class ContentRevision(BaseModel):
    """One change of an artifact's content after it was stored, as recorded (append-only):
    the hash before and after (None on rows stored before hashing), what changed and how."""

    artifact_id: int
    old_sha256: str | None
    new_sha256: str | None
    changed: list[str] = Field(description="payload keys, or `image`")
    source: str = Field(description="patch (PATCH of payload fields) or image (an image "
                                    "attached to a chart that had none)")
    revised_at: datetime


def revision_problems(content_sha256: str | None,
                      revisions: list[ContentRevision]) -> list[str]:
    """Why an artifact's recorded revisions (oldest first) do not explain its hash; empty
    when each starts where the one before ended and the last ends at the stored hash."""
    problems = [f"revision of {after.revised_at.isoformat()} starts from hash "
                f"{after.old_sha256}, not from {before.new_sha256} where the one before ended"
                for before, after in zip(revisions, revisions[1:])
                if after.old_sha256 != before.new_sha256]
    if revisions and revisions[-1].new_sha256 != content_sha256:
        problems.append(f"content_sha256 is not the hash its last recorded revision left "
                        f"({revisions[-1].new_sha256}): content and hash were changed "
                        f"outside Provenant")
    return problems


RUN_MANIFEST_PATH = "provenant/manifest.json"  # inside the MLflow run
RUN_MANIFEST_TAG = "provenant.manifest_sha256"  # the run's own record of the manifest's hash
RUN_MANIFEST_INLINE_TAG = "provenant.manifest"  # the same bytes as the file, when they fit a tag
# MLflow 3.17.2 refuses tag values over 8,000 characters (mlflow/utils/validation.py
# MAX_TAG_VAL_LENGTH); bytes are never fewer than characters, and the margin keeps us clear.
INLINE_MANIFEST_MAX_BYTES = 7_000


def inline_manifest(manifest: bytes) -> str | None:
    """The manifest as a tag value (exactly its bytes, decoded), or None when too large."""
    return manifest.decode() if len(manifest) <= INLINE_MANIFEST_MAX_BYTES else None


def manifest_tags(manifest: bytes) -> dict[str, str]:
    """The run tags that record a manifest: its hash, and the manifest itself when it fits."""
    tags = {RUN_MANIFEST_TAG: sha256_hex(manifest)}
    if (inline := inline_manifest(manifest)) is not None:
        tags[RUN_MANIFEST_INLINE_TAG] = inline
    return tags


def run_manifest(artifacts: list[Any], edges: list[Edge]) -> bytes:
    """The run's independent record of its artifacts: id, type, name, hash and inputs."""
    inputs: dict[int, list[int]] = {}
    for edge in edges:
        inputs.setdefault(edge.artifact_id, []).append(edge.input_id)
    return canonical_json({"format": "provenant-run-manifest", "version": 1, "artifacts": [
        {"id": a.id, "type": str(a.type), "name": a.name, "content_sha256": a.content_sha256,
         "inputs": sorted(inputs.get(a.id, []))} for a in artifacts]})


@dataclass(frozen=True, slots=True)
class ChainMember:
    """What `infer_chain` reads of an artifact, without loading the artifact."""

    id: int
    type: str
    symbol: str | None
    chart_type: str | None

    @property
    def payload(self) -> dict[str, Any]:
        return {"chart_type": self.chart_type}


# The workflow's step order: each kind was derived from the kinds of the step before it.
_DERIVED_FROM = {"chart": ("market_data",), "llm": ("chart",), "signal": ("llm",),
                 "order": ("signal",), "trade": ("order",)}


def infer_chain(artifacts: list[Any]) -> list[tuple[int, int]]:
    """Edges (artifact_id, input_id) guessed by step order within one execution.

    Each artifact takes, of its symbol, the latest earlier artifact of each kind of the step
    before it (charts: one per chart type). A missing step gives no edge: nothing invented.
    """
    edges: list[tuple[int, int]] = []
    latest: dict[tuple[Any, str, Any], Any] = {}  # (symbol, type, chart type) -> artifact
    for artifact in sorted(artifacts, key=lambda a: a.id):
        kind = str(artifact.type)
        wanted = _DERIVED_FROM.get(kind, ())
        edges += [(artifact.id, earlier.id) for (symbol, earlier_kind, _), earlier
                  in latest.items() if symbol == artifact.symbol and earlier_kind in wanted]
        chart_type = artifact.payload.get("chart_type") if kind == "chart" else None
        latest[(artifact.symbol, kind, chart_type)] = artifact
    return edges
