"""A real S3-compatible server for the s3:// tests: moto's `moto_server` as a subprocess on a
free loopback port, stopped afterwards."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.mlflow_server import free_port

# moto accepts any credentials; boto3 only needs some, and a region.
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self):
        """A boto3 client of this server."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing",
            region_name="us-east-1").client("s3", endpoint_url=self.endpoint_url)

    def bucket(self, name: str, objects: dict[str, bytes] | None = None) -> None:
        """Create a bucket holding `objects` (key -> bytes)."""
        client = self.client()
        client.create_bucket(Bucket=name)
        for key, data in (objects or {}).items():
            client.put_object(Bucket=name, Key=key, Body=data)


@contextmanager
def s3_server(monkeypatch=None) -> Iterator[S3Server]:
    """`moto_server` on a free port until the block ends; with `monkeypatch`, this process's
    AWS credentials point at it too."""
    port = free_port()
    script = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(script), "-H", "127.0.0.1", "-p", str(port)],
                            # it logs every request: a pipe nobody reads would fill and stall it
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(endpoint, proc)
        if monkeypatch is not None:
            for name, value in S3_ENV.items():
                monkeypatch.setenv(name, value)
        yield S3Server(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(endpoint: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with code {proc.returncode}")
        try:
            httpx.get(endpoint, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {seconds:.0f} s")
