"""Find the previous system's chart images: MinIO (http) and s3:// URLs under allowed prefixes,
container paths and URLs mapped to local folders or to other URL prefixes, relative paths under
a root. A miss is a reason, not an error."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from provenant.adapters.blobs import InvalidImage, looks_like_html, sniff_image
from provenant.adapters.image_fetch import (
    MAX_IMAGE_BYTES, ImageFetchFailed, ImageFetchRefused, S3ImageReader, fetch_image, is_url)
from provenant.service.images import html_chart_warning


@dataclass(frozen=True)
class ImageSources:
    """Where old image paths are found: a root, OLD=NEW maps (NEW a folder, or an http(s) or
    s3:// URL prefix the operator names, which is then fetched) and URL prefixes to fetch."""

    root: Path | None = None
    path_map: Sequence[tuple[str, str]] = ()
    fetch_prefixes: Sequence[str] = ()
    max_bytes: int = MAX_IMAGE_BYTES
    s3_endpoint_url: str | None = None
    _ordered: tuple[tuple[str, str], ...] = field(init=False, default=())
    allowed: tuple[str, ...] = field(init=False, default=())
    s3: S3ImageReader = field(init=False)

    def __post_init__(self) -> None:
        # Longest OLD first: /app/charts/daily=... wins over /app/charts=...
        ordered = sorted(((o.rstrip("/"), n.rstrip("/")) for o, n in self.path_map),
                         key=lambda pair: len(pair[0]), reverse=True)
        object.__setattr__(self, "_ordered", tuple(ordered))
        # A URL a map points to was named by the operator: it may be fetched.
        mapped = tuple(new + "/" for _, new in ordered if is_url(new))
        object.__setattr__(self, "allowed", (*self.fetch_prefixes, *mapped))
        object.__setattr__(self, "s3", S3ImageReader(self.s3_endpoint_url))

    @property
    def uses_s3(self) -> bool:
        return any(p.lower().startswith("s3://") for p in self.allowed)

    def located(self, path: str) -> str:
        """Where an old path (or URL) is now: mapped, then relative to the root."""
        for old, new in self._ordered:
            if path == old or path.startswith(old + "/"):
                rest = path[len(old):].lstrip("/")
                return f"{new}/{rest}" if is_url(new) else str(Path(new) / rest)
        if is_url(path):
            return path
        file = Path(path).expanduser()
        return str(self.root / file if not file.is_absolute() and self.root else file)


def parse_path_map(items: Sequence[str]) -> list[tuple[str, str]]:
    """OLD=NEW strings as pairs; ValueError naming a malformed one."""
    pairs = []
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f"--image-path-map {item!r}: expected OLD=NEW")
        pairs.append((old.strip(), new.strip()))
    return pairs


def check_fetch_prefixes(items: Sequence[str]) -> list[str]:
    """The prefixes, each an http(s) URL with a host or s3://bucket[/prefix]; ValueError
    naming one that is not (it could never match, and a typo must not pass silently)."""
    for item in items:
        parts = urlsplit(item)
        if parts.scheme.lower() not in ("http", "https", "s3") or not parts.netloc:
            raise ValueError(f"--fetch-images-from {item!r}: expected an http(s) URL with a "
                             f"host or s3://bucket/prefix")
    return list(items)


def load_image(image_path: str, sources: ImageSources) -> tuple[bytes | None, str | None]:
    """(the image bytes, None) or (None, why they were not imported)."""
    try:
        data = _read(image_path, sources)
    except (ImageFetchRefused, ImageFetchFailed) as exc:
        return None, f"image not imported: {exc}"
    except OSError as exc:
        return None, f"image {image_path} not imported: {exc.strerror or exc}"
    if looks_like_html(data):
        return None, html_chart_warning(image_path)
    try:
        sniff_image(data)
    except InvalidImage as exc:
        return None, f"image {image_path} not imported: {exc}"
    return data, None


def _read(image_path: str, sources: ImageSources) -> bytes:
    where = sources.located(image_path)
    if where.lower().startswith("s3://"):
        return sources.s3.fetch(where, sources.allowed, max_bytes=sources.max_bytes)
    if is_url(where):
        return fetch_image(where, sources.allowed, max_bytes=sources.max_bytes)
    file = Path(where)
    if file.stat().st_size > sources.max_bytes:
        raise ImageFetchRefused(f"{image_path}: larger than {sources.max_bytes} bytes")
    return file.read_bytes()

