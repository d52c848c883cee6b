"""Fetch a chart image by URL, only under allowed prefixes: bounded size and time, and no
redirects (a redirect could lead anywhere, which is what server-side request forgery needs).
http(s) URLs with urllib; s3:// URLs (the importer's) with boto3, through the `s3` extra."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from provenant.adapters.s3_objects import S3ExtraMissing, s3_client, split_s3_url

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


def _check_allowed(url: str, prefixes: Sequence[str]) -> None:
    if allowed_prefix(url, prefixes) is None:
        raise ImageFetchRefused(
            f"{url!r} is not under an allowed image prefix"
            + (f" ({', '.join(prefixes)})" if prefixes else " (none configured)"))


def fetch_image(url: str, prefixes: Sequence[str], *, max_bytes: int = MAX_IMAGE_BYTES,
                timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The bytes at `url` if it lies under one of `prefixes` (the caller checks the content)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ImageFetchRefused(f"{url!r}: only http(s) image URLs are fetched")
    _check_allowed(url, prefixes)
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


class S3ImageReader:
    """Reads s3://bucket/key images under allowed prefixes, from AWS or an S3-compatible
    endpoint (PROVENANT_S3_ENDPOINT_URL); one client, made on first use, shared by threads."""

    def __init__(self, endpoint_url: str | None = None,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self.endpoint_url, self.timeout = endpoint_url, timeout
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = s3_client(self.endpoint_url, self.timeout)
            return self._client

    def fetch(self, url: str, prefixes: Sequence[str], *,
              max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
        """The object's bytes; never more than `max_bytes` are held (larger is refused)."""
        _check_allowed(url, prefixes)
        bucket, key = split_s3_url(url)
        try:
            answer = self._s3().get_object(Bucket=bucket, Key=key)
        except S3ExtraMissing as exc:
            raise ImageFetchFailed(f"{url}: {exc}") from None
        except Exception as exc:  # botocore: ClientError (NoSuchKey, ...) or a transport error
            raise ImageFetchFailed(f"{url}: {_s3_reason(exc)}") from None
        body = answer["Body"]
        try:
            if (answer.get("ContentLength") or 0) > max_bytes:
                raise ImageFetchRefused(f"{url}: larger than {max_bytes} bytes")
            data = body.read(max_bytes + 1)
        except ImageFetchRefused:
            raise
        except Exception as exc:  # the connection broke while reading
            raise ImageFetchFailed(f"{url}: {_s3_reason(exc)}") from None
        finally:
            body.close()
        if len(data) > max_bytes:
            raise ImageFetchRefused(f"{url}: larger than {max_bytes} bytes")
        return data


def _s3_reason(exc: Exception) -> str:
    """botocore's error code (NoSuchKey, AccessDenied, ...), else the message."""
    error = getattr(exc, "response", {}).get("Error", {})
    return error.get("Code") or str(exc) or type(exc).__name__
