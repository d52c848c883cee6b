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
MAX_EDGES = 10 * MAX_NODES  # edges read per walk: a bad graph is cut (and says so), not read whole
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

    The repository reads the edges within MAX_DEPTH links and their rows in one recursive
    query, so the cost does not grow with the chain's depth.
    """
    if direction not in DIRECTIONS:
        raise Refused(f"direction is 'up' or 'down', not {direction!r}")
    edges, rows, too_many = repository.chain(artifact_id, direction, MAX_DEPTH, MAX_EDGES)
    if artifact_id not in rows:
        raise NotFound(f"artifact {artifact_id} not found")
    levels, cut = _breadth_first(artifact_id, edges, direction, max_nodes)
    depth_of = {i: depth for i, depth in levels if i in rows}
    kept = [e for e in edges if e.artifact_id in depth_of and e.input_id in depth_of]
    kept.sort(key=lambda e: (depth_of[_ends(e, direction)[0]], _ends(e, direction)))
    return [(rows[i], depth) for i, depth in depth_of.items()], kept, cut or too_many


def _ends(edge: Edge, direction: str) -> tuple[int, int]:
    """(near, far): walking up, from an artifact to its input; down, the other way."""
    return (edge.artifact_id, edge.input_id) if direction == "up" else (edge.input_id,
                                                                         edge.artifact_id)


def _breadth_first(root: int, edges: list[Edge], direction: str, max_nodes: int
                   ) -> tuple[list[tuple[int, int]], bool]:
    """(id, depth) in breadth-first order (each level by near id, then far id), and
    whether max_nodes or MAX_DEPTH cut it."""
    ahead_of: dict[int, list[int]] = {}
    for edge in edges:
        near, far = _ends(edge, direction)
        ahead_of.setdefault(near, []).append(far)
    order, seen = [(root, 0)], {root}
    frontier, depth, truncated = [root], 0, False
    while frontier and depth < MAX_DEPTH:
        depth += 1
        ahead = [far for near in sorted(frontier) for far in sorted(ahead_of.get(near, ()))]
        frontier = [i for i in dict.fromkeys(ahead) if i not in seen]
        if len(seen) + len(frontier) > max_nodes:
            frontier, truncated = frontier[:max_nodes - len(seen)], True
        seen.update(frontier)
        order.extend((i, depth) for i in frontier)
    return order, truncated or bool(frontier)


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
                          checked: bool = False, max_id: int | None = None) -> int:
    """Give these executions' imported artifacts edges by step order, marked inferred; returns
    how many were new. An artifact's edges depend only on earlier ids, so a chain imported
    page by page in id order gets its final edges page by page.

    `checked` puts each artifact's edges through `add_inputs` (every check, cycles refused
    and skipped): needed only when the table has upward edges (`has_upward_edges`).
    `max_id` leaves later artifacts out (pages written out of order: they wait for theirs).
    """
    edges = [edge for members in repository.imported_chains(execution_ids, max_id)
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
