"""A loopback HTTP proxy that counts requests and can be made slow or down."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class CountingProxy:
    """Forwards to `target`; counts every request; `delay` seconds or `down` on demand."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.requests: list[tuple[str, str]] = []
        self.delay = 0.0
        self.down = False
        # One client for every request: a new one per request builds its TLS context each
        # time (milliseconds of CPU), which made the proxy, not the server, the slow part.
        self.client = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _forward(self):
                proxy.requests.append((self.command, self.path))
                if proxy.down:
                    self.send_error(503, "tracker down (test proxy)")
                    return
                if proxy.delay:
                    time.sleep(proxy.delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                try:
                    upstream = proxy.client.request(self.command, proxy.target + self.path,
                                                    content=body, headers=headers)
                except httpx.HTTPError:
                    self.send_error(502)
                    return
                try:
                    self.send_response(upstream.status_code)
                    for key, value in upstream.headers.items():
                        if key.lower() not in ("content-length", "transfer-encoding",
                                               "connection", "content-encoding"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(upstream.content)))
                    self.end_headers()
                    self.wfile.write(upstream.content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (that is what `delay` is for)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "CountingProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()

    @property
    def count(self) -> int:
        return len(self.requests)

    def reset(self) -> None:
        self.requests.clear()
