"""Blob store for chart images: a local folder by default, S3-compatible via the `s3` extra."""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Protocol

from provenant.adapters.s3_objects import s3_client, split_s3_url

# Content sniffing, not names: the first bytes decide what an upload is.
_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_KEY = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")


class InvalidImage(ValueError):
    """The bytes are not a PNG, JPEG, GIF or WebP image that decodes."""


def sniff_image(data: bytes) -> str:
    """Return the image's content type, or raise InvalidImage."""
    content_type = next((ct for sig, ct in _SIGNATURES.items() if data.startswith(sig)), None)
    if content_type is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        content_type = "image/webp"
    if content_type is None:
        raise InvalidImage("not an image: expected PNG, JPEG, GIF or WebP content")
    from PIL import Image  # Pillow ships with matplotlib; decode to refuse truncated files

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception as exc:  # Pillow raises many types for broken files
        raise InvalidImage(f"image does not decode: {exc}") from None
    return content_type


def looks_like_html(data: bytes) -> bool:
    """An HTML page where an image was expected (the previous system's plotly fallback)."""
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<div", b"<script", b"<head"))


def image_key(data: bytes, content_type: str) -> str:
    """Content-addressed key: the same image is stored once, and keys never name paths."""
    return key_for(hashlib.sha256(data).hexdigest(), content_type)


def key_for(sha256: str, content_type: str) -> str:
    """The key of a stored image, from its SHA-256 and content type (no bytes needed)."""
    return f"{sha256}.{_EXTENSIONS[content_type]}"


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise KeyError(f"invalid blob key {key!r}")
    return key


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...


class LocalBlobStore:
    """Blobs as files under one folder, fanned out by the key's first two characters."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".{id(data)}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: readers never see half a file

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None


class S3BlobStore:
    """Blobs in an S3-compatible bucket (AWS, MinIO, ...); needs the `s3` extra."""

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        self.bucket, self.prefix = split_s3_url(url)
        self.client = s3_client(endpoint_url)

    def _name(self, key: str) -> str:
        key = _checked(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                               ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise KeyError(key) from None


def open_blob_store(url: str, s3_endpoint_url: str | None = None) -> BlobStore:
    """The blob store a settings URL names."""
    if url.startswith("s3://"):
        return S3BlobStore(url, s3_endpoint_url)
    return LocalBlobStore(Path(url.removeprefix("file://")).expanduser())
