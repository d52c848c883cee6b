"""A lean closed-loop HTTP/1.1 load generator: N keep-alive connections, bounded in time.

Raw asyncio streams rather than an HTTP client library, so that the generator (which
shares the machine's cores with the servers) costs as little CPU per request as possible;
every target is measured with this same generator.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from benchmarks.harness import latency_summary


@dataclass
class LoadResult:
    """Requests completed inside the measured window, their latencies and failures."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies) / self.seconds

    def summary(self) -> dict[str, float]:
        stats = latency_summary(self.latencies)
        return {"requests": stats["n"], "req_per_s": self.requests_per_s,
                "p50_ms": stats["p50_ms"], "p99_ms": stats["p99_ms"], "max_ms": stats["max_ms"],
                "errors": self.errors}


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Read one response; return its status, whether the connection stays open, its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower()] = value.strip().lower()
    body = b""
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")
        body = b"".join(chunks)
    return status, headers.get(b"connection") != b"close", body


async def _client(host: str, port: int, request: bytes, window: tuple[float, float],
                  result: LoadResult) -> None:
    start_measuring, stop = window
    reader = writer = None
    while time.perf_counter() < stop:
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        sent = time.perf_counter()
        writer.write(request)
        try:
            status, keep_alive, _ = await read_response(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            status, keep_alive = 0, False
        done = time.perf_counter()
        if sent >= start_measuring and done <= stop:
            if status == 200:
                result.latencies.append(done - sent)
            else:
                result.errors += 1
        if not keep_alive:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _run(url: str, concurrency: int, warmup_s: float, duration_s: float) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n"
    start = time.perf_counter() + warmup_s
    result = LoadResult(seconds=duration_s)
    await asyncio.gather(*(_client(host, port, request.encode(), (start, start + duration_s),
                                   result) for _ in range(concurrency)))
    return result


def run_load(url: str, *, concurrency: int = 32, warmup_s: float = 1.0,
             duration_s: float = 5.0) -> LoadResult:
    """GET `url` from `concurrency` connections for warmup + duration seconds."""
    return asyncio.run(_run(url, concurrency, warmup_s, duration_s))
