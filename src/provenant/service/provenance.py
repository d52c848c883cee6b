"""Walk the decision chain of an artifact and check that each link is unchanged."""
from __future__ import annotations

from collections.abc import Iterable

from provenant.adapters.blobs import BlobStore
from provenant.domain.artifacts import Artifact
from provenant.domain.errors import NotFound, Refused
from provenant.domain.lineage import mlflow_run_url
from provenant.domain.provenance import (
    Edge, NodeLineage, Provenance, ProvenanceNode, Verification, infer_chain)
from provenant.lineage.integrity import content_problems
from provenant.store.repository import ArtifactRepository

MAX_NODES = 500   # a decision chain has a handful of links; the bound keeps a bad graph cheap
MAX_DEPTH = 50
DIRECTIONS = ("up", "down")


def check_content(artifact: Artifact, blobs: BlobStore) -> tuple[Verification, list[str]]:
    """Whether the stored content (and image bytes) still hash to what was recorded."""
    if artifact.content_sha256 is None:
        return Verification.unverifiable, []  # stored before hashes were recorded
    problems = content_problems(artifact, blobs)
    return (Verification.changed if problems else Verification.verified), problems


def walk(repository: ArtifactRepository, artifact_id: int, direction: str = "up",
         max_nodes: int = MAX_NODES) -> tuple[list[tuple[Artifact, int]], list[Edge], bool]:
    """Breadth-first from one artifact: (artifact, depth) pairs, edges, whether it was cut.

    One edge query and one row query per level, so the cost grows with the chain's depth.
    """
    if direction not in DIRECTIONS:
        raise Refused(f"direction is 'up' or 'down', not {direction!r}")
    root = repository.get(artifact_id)
    if root is None:
        raise NotFound(f"artifact {artifact_id} not found")
    found, edges, seen = [(root, 0)], [], {artifact_id}
    frontier, depth, truncated = [artifact_id], 0, False
    while frontier and depth < MAX_DEPTH:
        depth += 1
        level = repository.edges(frontier, direction)
        edges.extend(level)
        ahead = [e.input_id if direction == "up" else e.artifact_id for e in level]
        frontier = [i for i in dict.fromkeys(ahead) if i not in seen]
        if len(seen) + len(frontier) > max_nodes:
            frontier, truncated = frontier[:max_nodes - len(seen)], True
        seen.update(frontier)
        found.extend((a, depth) for a in repository.get_many(frontier))
    truncated = truncated or bool(frontier)
    kept = {a.id for a, _ in found}
    return found, [e for e in edges if e.artifact_id in kept and e.input_id in kept], truncated


def provenance(repository: ArtifactRepository, blobs: BlobStore, artifact_id: int,
               direction: str = "up", mlflow_ui_url: str = "") -> Provenance:
    """The chain up or down from an artifact, each node with its lineage and verification."""
    found, edges, truncated = walk(repository, artifact_id, direction)
    nodes = []
    for artifact, depth in found:
        state, problems = check_content(artifact, blobs)
        nodes.append(ProvenanceNode(
            **artifact.model_dump(include=set(ProvenanceNode.model_fields)), depth=depth,
            lineage=NodeLineage(status=artifact.lineage_status,
                                mlflow_run_url=mlflow_run_url(mlflow_ui_url, artifact.lineage)),
            verification=state, problems=problems))
    return Provenance(artifact_id=artifact_id, direction=direction, nodes=nodes, edges=edges,
                      truncated=truncated)


def infer_imported_chains(repository: ArtifactRepository, execution_ids: Iterable[str],
                          checked: bool = False) -> int:
    """Give these executions' imported artifacts edges by step order, marked inferred; returns
    how many were new. An artifact's edges depend only on earlier ids, so a chain imported
    page by page in id order gets its final edges page by page.

    `checked` puts each artifact's edges through `add_inputs` (every check, cycles refused
    and skipped): needed only when the table has upward edges (`has_upward_edges`).
    """
    edges = [edge for members in repository.imported_chains(execution_ids)
             for edge in infer_chain(members)]
    if not checked:
        return repository.add_inferred_edges(edges)
    inputs: dict[int, list[int]] = {}
    for artifact_id, input_id in edges:
        inputs.setdefault(artifact_id, []).append(input_id)
    added = 0
    for artifact_id, ids in inputs.items():
        try:
            added += len(repository.add_inputs(artifact_id, ids, inferred=True))
        except Refused:
            continue  # a guess that would contradict recorded edges is not made
    return added
