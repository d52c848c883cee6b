"""Chart images: the one sniff -> key -> put pipeline, and attaching an image to a chart."""
from __future__ import annotations

from pathlib import Path

from provenant.adapters.blobs import BlobStore, image_key, sniff_image
from provenant.domain.artifacts import Artifact, ArtifactType
from provenant.domain.errors import Conflict, NotFound, Refused
from provenant.store.repository import ArtifactRepository

StoredImage = tuple[str, str]  # (blob key, content type)


def put_image(blobs: BlobStore, image: bytes | str | Path) -> StoredImage:
    """Check the bytes are an image and store them content-addressed; InvalidImage if not.

    Blob first, row after: a row never points at nothing.
    """
    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    content_type = sniff_image(data)
    key = image_key(data, content_type)
    blobs.put(key, data, content_type)
    return key, content_type


def html_chart_warning(image_path: str) -> str:
    """Why a chart whose image is an HTML page is kept without an image (import and POST)."""
    return (f"chart file {image_path} is HTML (the previous system's interactive fallback), "
            f"not an image: kept without image")


def attach_image(repository: ArtifactRepository, blobs: BlobStore, artifact_id: int,
                 data: bytes) -> Artifact:
    """Give a chart artifact its image once; the same bytes again are a harmless retry."""
    artifact = repository.get(artifact_id)
    if artifact is None:
        raise NotFound(f"artifact {artifact_id} not found")
    if artifact.type != ArtifactType.chart:
        raise Refused(f"only chart artifacts take an image, not {artifact.type}")
    key, content_type = put_image(blobs, data)
    if not repository.set_image(artifact_id, key, content_type):
        current = repository.image_of(artifact_id)
        if current is None or current[0] != key:
            raise Conflict(f"artifact {artifact_id} already has another image")
    return repository.get(artifact_id)


def read_image(repository: ArtifactRepository, blobs: BlobStore,
               artifact_id: int) -> tuple[bytes, str]:
    """A stored chart's image bytes and content type."""
    stored = repository.image_of(artifact_id)
    if stored is None:
        raise NotFound(f"artifact {artifact_id} has no image")
    try:
        return blobs.get(stored[0]), stored[1]
    except KeyError:
        raise NotFound(f"the image of artifact {artifact_id} is missing") from None
