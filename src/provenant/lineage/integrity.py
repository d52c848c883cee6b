"""Content checks for `lineage verify`: stored hashes, recorded revisions, the run's manifest,
missing links."""
from __future__ import annotations

import json
from collections.abc import Iterable

from provenant.adapters.blobs import BlobStore, key_for
from provenant.adapters.tracking import TrackedRun, Tracker
from provenant.domain.artifacts import Artifact
from provenant.domain.provenance import (
    RUN_MANIFEST_INLINE_TAG, RUN_MANIFEST_PATH, RUN_MANIFEST_TAG, content_hash, revision_problems,
    sha256_hex)
from provenant.domain.reports import Mismatch
from provenant.store.repository import ArtifactRepository

Manifest = dict[int, dict]  # artifact id -> its manifest entry


def content_problems(artifact: Artifact, blobs: BlobStore | None) -> list[str]:
    """What no longer matches the artifact's content hash (its image bytes too, given blobs).

    Empty for an artifact stored before hashes were recorded: there is nothing to compare.
    """
    if artifact.content_sha256 is None:
        return []
    problems = []
    if content_hash(artifact.type, artifact.name, artifact.symbol, artifact.payload,
                    artifact.image_sha256) != artifact.content_sha256:
        problems.append("stored content no longer matches its content_sha256")
    if blobs is not None and artifact.image_sha256 is not None:
        try:  # the key follows from the row: no query per image
            data = blobs.get(key_for(artifact.image_sha256, artifact.image_content_type))
        except KeyError:
            return [*problems, "image is missing from the blob store"]
        if sha256_hex(data) != artifact.image_sha256:
            problems.append("image bytes no longer match their sha256")
    return problems


def read_run_manifest(tracker: Tracker, run: TrackedRun, deep: bool = False) -> Manifest | str:
    """The entries of a run's manifest (the run records one), or why they cannot be trusted:
    its inline copy when that matches the recorded hash (unless `deep`), else its file."""
    inline, _ = inline_manifest_of(run)
    if inline is not None and not deep:
        return parse_manifest(run, inline)
    return parse_manifest(run, tracker.run_file(run.run_id, RUN_MANIFEST_PATH))


def inline_manifest_of(run: TrackedRun) -> tuple[bytes | None, str | None]:
    """The run's inline manifest when its hash is the one the run recorded, else why not
    ((None, None) for a run without one: logged before it existed, or too large for a tag)."""
    text = run.tags.get(RUN_MANIFEST_INLINE_TAG)
    if text is None:
        return None, None
    data = text.encode()
    if sha256_hex(data) != run.tags.get(RUN_MANIFEST_TAG):
        return None, (f"run {run.run_id}'s {RUN_MANIFEST_INLINE_TAG} tag does not match the "
                      "manifest hash it recorded")
    return data, None


class IntegrityCheck:
    """Checks artifacts a chunk at a time; each run's manifest is read once: from its inline
    tag when that matches the recorded hash, else (or always when `deep`) from its file."""

    def __init__(self, repository: ArtifactRepository, tracker: Tracker,
                 blobs: BlobStore | None = None, deep: bool = False) -> None:
        self.repository, self.tracker, self.blobs, self.deep = repository, tracker, blobs, deep
        self.manifests: dict[str, Manifest | str] = {}  # run id -> entries, or why none
        self.inline_problems: dict[str, str] = {}  # run id -> why its inline copy is not trusted
        self.revised = 0  # artifacts whose recorded revisions explain their hash

    def chunk(self, chunk: list[Artifact], runs: dict[str, TrackedRun | None]) -> list[Mismatch]:
        """Every content, revision, image and manifest problem of these artifacts."""
        ids = [a.id for a in chunk]
        inputs: dict[int, list[int]] = {}
        for edge in self.repository.edges(ids, "up"):
            inputs.setdefault(edge.artifact_id, []).append(edge.input_id)
        revisions = self.repository.revisions(ids)
        self._fetch_manifests(chunk, runs)
        found = []
        for artifact in chunk:
            problems = [("content", p) for p in content_problems(artifact, self.blobs)]
            if artifact.id in revisions:
                unexplained = revision_problems(artifact.content_sha256, revisions[artifact.id])
                problems += [("revision", p) for p in unexplained]
                self.revised += not unexplained
            run = runs.get(artifact.run_id) if artifact.run_id else None
            if run is not None and RUN_MANIFEST_TAG in run.tags:
                problems += [("manifest", p) for p in
                             self._manifest(artifact, run, sorted(inputs.get(artifact.id, [])))]
            found += [Mismatch(artifact_id=artifact.id, run_id=artifact.run_id,
                               experiment_id=artifact.experiment_id, problem=p, check=check)
                      for check, p in problems]
        return found

    def _fetch_manifests(self, chunk: list[Artifact], runs: dict[str, TrackedRun | None]) -> None:
        """The manifests of the chunk's runs not read yet: inline copies at no cost, the rest
        one file request per run, together."""
        pending = {}
        for run in {a.run_id: runs[a.run_id] for a in chunk
                    if a.run_id and a.run_id not in self.manifests and runs.get(a.run_id)
                    and RUN_MANIFEST_TAG in runs[a.run_id].tags}.values():
            inline, problem = inline_manifest_of(run)
            if problem is not None:
                self.inline_problems[run.run_id] = problem
            if inline is not None and not self.deep:
                self.manifests[run.run_id] = parse_manifest(run, inline)
            else:
                pending[run.run_id] = run
        fetched = self.tracker.run_files(list(pending.values()), RUN_MANIFEST_PATH)
        for run_id, data in fetched.items():
            self.manifests[run_id] = parse_manifest(pending[run_id], data)

    def _manifest(self, artifact: Artifact, run: TrackedRun, inputs: list[int]) -> Iterable[str]:
        if run.run_id in self.inline_problems:
            yield self.inline_problems[run.run_id]
        manifest = self.manifests[run.run_id]  # read for the whole chunk by _fetch_manifests
        if isinstance(manifest, str):
            yield manifest
            return
        entry = manifest.get(artifact.id)
        if entry is None:
            return  # stored in the run but not logged by it (e.g. a failed LLM attempt)
        if entry.get("content_sha256") != artifact.content_sha256:
            yield f"content_sha256 differs from run {run.run_id}'s manifest"
        if sorted(entry.get("inputs") or []) != inputs:
            yield (f"inputs {inputs} differ from run {run.run_id}'s manifest "
                   f"({sorted(entry.get('inputs') or [])})")

    def missing(self) -> list[Mismatch]:
        """Links to artifacts that no longer exist: in the edges, and in the manifests."""
        found = [Mismatch(artifact_id=e.artifact_id, run_id=None, experiment_id=None,
                          check="chain", problem=f"input artifact {e.input_id} is missing: "
                                                 "the decision chain has a broken link")
                 for e in self.repository.dangling_edges()]
        listed = {run_id: manifest for run_id, manifest in self.manifests.items()
                  if isinstance(manifest, dict)}
        stored = self.repository.existing_ids(i for manifest in listed.values() for i in manifest)
        for run_id, manifest in listed.items():
            found += [Mismatch(artifact_id=i, run_id=run_id, experiment_id=None,
                               check="manifest", problem=f"listed in run {run_id}'s "
                                                         "manifest but not stored")
                      for i in sorted(set(manifest) - stored)]
        return found


def parse_manifest(run: TrackedRun, data: bytes | None) -> Manifest | str:
    """A run's manifest entries by artifact id, or why there are none to compare with."""
    if data is None:
        return f"run {run.run_id} records a manifest, but {RUN_MANIFEST_PATH} is missing"
    if sha256_hex(data) != run.tags[RUN_MANIFEST_TAG]:
        return f"run {run.run_id}'s {RUN_MANIFEST_PATH} does not match the hash it recorded"
    try:
        return {int(e["id"]): e for e in json.loads(data)["artifacts"]}
    except (ValueError, KeyError, TypeError):
        return f"run {run.run_id}'s {RUN_MANIFEST_PATH} cannot be read"
