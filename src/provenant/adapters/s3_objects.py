"""S3-compatible object storage (AWS, MinIO, ...) through the `s3` extra. boto3 is imported
here, lazily: without the extra, nothing else needs it."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit


class S3ExtraMissing(RuntimeError):
    """An s3:// location was named, but boto3 (the `s3` extra) is not installed."""


def s3_client(endpoint_url: str | None = None, timeout: float | None = None) -> Any:
    """A boto3 S3 client (thread-safe once made); `endpoint_url` for MinIO and the like."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise S3ExtraMissing("s3:// locations need the s3 extra: "
                             "pip install 'provenant[s3]'") from None
    config = None
    if timeout is not None:  # a bounded wait per call, and one retry, not boto3's five
        config = Config(connect_timeout=timeout, read_timeout=timeout,
                        retries={"max_attempts": 2, "mode": "standard"})
    # A session of its own: boto3's default session is not safe to share between threads.
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def split_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key or prefix) of `s3://bucket/key`."""
    parts = urlsplit(url)
    return parts.netloc, unquote(parts.path).strip("/")
