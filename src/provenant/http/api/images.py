"""Chart images: served content-addressed (ETag = sha256), uploaded once per chart."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from provenant.http.deps import ArtifactId, ServicesDep
from provenant.http.api.schemas import ArtifactOut, artifact_out, error_responses
from provenant.service.images import attach_image, read_image

router = APIRouter(prefix="/api/artifacts", tags=["images"])

# An artifact's image never changes once set (uploads refuse a different one), so
# clients may keep it; the ETag still lets them revalidate cheaply.
_CACHE_CONTROL = "public, max-age=31536000, immutable"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@router.get("/{artifact_id}/image", response_class=Response, responses={
    200: {"description": "The image bytes.", "content": dict.fromkeys(_IMAGE_TYPES, {})},
    304: {"description": "Not modified (If-None-Match named its ETag)."},
    **error_responses(404, 422, 503)})
def get_image(artifact_id: ArtifactId, request: Request, services: ServicesDep) -> Response:
    """The chart's image bytes, with its content type, ETag and cache headers."""
    artifact = services.artifacts.get(artifact_id)
    if artifact is None:
        raise HTTPException(404, f"artifact {artifact_id} not found")
    if not artifact.has_image:
        raise HTTPException(404, f"artifact {artifact_id} has no image")
    etag = f'"{artifact.image_sha256}"'
    # Opened on its own, an image is never a document that could run script.
    headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL, "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    if _etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    data, content_type = read_image(services.artifacts, services.blobs, artifact_id)
    if content_type not in _IMAGE_TYPES:  # only an edited database row could say otherwise
        content_type = "application/octet-stream"
    return Response(data, media_type=content_type, headers=headers)


@router.put("/{artifact_id}/image", response_model=ArtifactOut,
            responses=error_responses(400, 401, 404, 409, 413, 422, 503),
            openapi_extra={"requestBody": {"required": True, "content": dict.fromkeys(
                _IMAGE_TYPES, {"schema": {"type": "string", "format": "binary"}})}})
async def put_image(artifact_id: ArtifactId, request: Request,
                    services: ServicesDep) -> ArtifactOut:
    """Upload a chart's image as the raw body (PNG, JPEG, GIF or WebP; content is checked)."""
    try:
        data = await request.body()
    except ClientDisconnect:  # the uploader went away mid-body: nothing to store, no one to tell
        return Response(status_code=400)
    if not data:
        raise HTTPException(422, "empty body: send the image bytes as the request body")
    artifact = await run_in_threadpool(attach_image, services.artifacts, services.blobs,
                                       artifact_id, data)
    return artifact_out(artifact, artifact.lineage_status, services.settings)
