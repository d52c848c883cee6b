"""The drawer's "Decision chain": what an artifact was derived from, each link checked."""
from __future__ import annotations

from dataclasses import dataclass

from provenant.bootstrap import Services
from provenant.domain.artifacts import Artifact, ArtifactType
from provenant.domain.provenance import Provenance, Verification
from provenant.service.provenance import provenance

VERIFICATION_WORDS = {
    Verification.verified: "Verified",
    Verification.changed: "Changed",
    Verification.unverifiable: "Unverifiable",
}
VERIFICATION_HELP = {
    Verification.verified: "Its content still matches the hash taken when it was stored.",
    Verification.changed: "Its content no longer matches the hash taken when it was stored.",
    Verification.unverifiable: "Stored before content hashes were recorded: nothing to "
                               "compare with.",
}
# The question the section answers for artifacts that act on the market.
_ASKED = {ArtifactType.order: "Why this order?", ArtifactType.signal: "Why this signal?"}


@dataclass(frozen=True)
class ChainView:
    title: str
    chain: Provenance
    inferred: set[int]  # nodes reached by an edge guessed afterwards, not recorded live


def chain_view(services: Services, artifact: Artifact) -> ChainView | None:
    """The upstream chain for the drawer; None when there is nothing to show."""
    chain = provenance(services.artifacts, services.blobs, artifact.id, "up",
                       services.settings.mlflow_ui_url)
    if len(chain.nodes) == 1 and artifact.type not in _ASKED:
        return None
    return ChainView(title=_ASKED.get(artifact.type, "Decision chain"), chain=chain,
                     inferred={e.input_id for e in chain.edges if e.inferred})
