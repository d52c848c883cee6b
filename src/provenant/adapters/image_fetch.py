"""Fetch a chart image by URL, only under allowed prefixes: bounded size and time, and no
redirects (a redirect could lead anywhere, which is what server-side request forgery needs)."""
from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

MAX_IMAGE_BYTES = 20 * 1024 * 1024
TIMEOUT_SECONDS = 10.0


class ImageFetchRefused(ValueError):
    """The URL may not be fetched, or what it answered is not acceptable (the reason says)."""


class ImageFetchFailed(RuntimeError):
    """The image server did not answer with the image (unreachable, timeout, not 200)."""


def is_url(value: str) -> bool:
    """True for anything with a URL scheme (http, s3, file, ...), not a file path (`C:` is one)."""
    return len(urlsplit(value).scheme) > 1


def _parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ImageFetchRefused(f"{url!r}: URLs with credentials are not fetched")
    path = unquote(parts.path) or "/"
    if {".", ".."} & set(path.split("/")):
        raise ImageFetchRefused(f"{url!r}: the path is not in normal form")
    return parts.scheme.lower(), (parts.hostname or "") + f":{parts.port or ''}", path


def allowed_prefix(url: str, prefixes: Sequence[str]) -> str | None:
    """The prefix `url` lies under (same scheme and host, path below it), or None."""
    scheme, host, path = _parts(url)
    for prefix in prefixes:
        p_scheme, p_host, p_path = _parts(prefix)
        base = p_path.rstrip("/") + "/"
        if (scheme, host) == (p_scheme, p_host) and (path + "/").startswith(base):
            return prefix
    return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        raise ImageFetchRefused(f"{req.full_url}: answered with a redirect ({code}); "
                                f"redirects are not followed")


_opener = urllib.request.build_opener(_NoRedirects)


def fetch_image(url: str, prefixes: Sequence[str], *, max_bytes: int = MAX_IMAGE_BYTES,
                timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The bytes at `url` if it lies under one of `prefixes` (the caller checks the content)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ImageFetchRefused(f"{url!r}: only http(s) image URLs are fetched")
    if allowed_prefix(url, prefixes) is None:
        raise ImageFetchRefused(
            f"{url!r} is not under an allowed image prefix"
            + (f" ({', '.join(prefixes)})" if prefixes else " (none configured)"))
    try:
        with _opener.open(urllib.request.Request(url, headers={"Accept": "image/*"}),
                          timeout=timeout) as answer:
            data = answer.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise ImageFetchFailed(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ImageFetchFailed(f"{url}: {getattr(exc, 'reason', exc)}") from None
    if len(data) > max_bytes:
        raise ImageFetchRefused(f"{url}: larger than {max_bytes} bytes")
    return data
