"""A local HTTP server speaking OpenAI's chat-completions protocol, scripted per request.

Queue replies with ``answer(...)`` (a completion whose content is any text, e.g. broken
JSON, with any finish_reason) or ``raw(...)`` (any HTTP status/body, or a body cut off
mid-transfer). With nothing queued it answers ``default`` (a valid signal). Every
request body is kept in ``requests``.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VALID_SIGNAL = {
    "action": "BUY", "confidence": 0.7, "score": 0.5, "entry_price": 100.0, "stop_loss": 95.0,
    "take_profit": 110.0, "risk_reward": 2.0, "rationale": "Uptrend above all moving averages.",
    "key_factors": ["close above SMA 200", "MACD rising"],
    "timeframes": {"daily": "bullish", "weekly": "bullish"},
}


@dataclass(frozen=True)
class Answer:
    content: str | None
    finish_reason: str = "stop"
    prompt_tokens: int = 1200
    completion_tokens: int = 80


@dataclass(frozen=True)
class Raw:
    status: int = 200
    body: bytes = b""
    cut_after: int | None = None  # announce the full length, send this many bytes, hang up


class OpenAIServer:
    """``with OpenAIServer() as server: ... server.url`` (the base URL, ending in /v1)."""

    def __init__(self, model: str = "local-vision-model") -> None:
        self.model = model
        self.default: Answer | Raw = Answer(json.dumps(VALID_SIGNAL))
        self.replies: deque[Answer | Raw] = deque()
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"

    def answer(self, content: str | dict | None, finish_reason: str = "stop") -> "OpenAIServer":
        """Queue a completion whose message content is `content` (a dict is sent as JSON)."""
        text = json.dumps(content) if isinstance(content, dict) else content
        self.replies.append(Answer(text, finish_reason))
        return self

    def raw(self, status: int = 200, body: bytes = b"", cut_after: int | None = None):
        """Queue a raw HTTP reply (error status, a body that is no completion, a cut body)."""
        self.replies.append(Raw(status, body, cut_after))
        return self

    def _next(self) -> Answer | Raw:
        with self._lock:
            return self.replies.popleft() if self.replies else self.default

    def _completion(self, answer: Answer) -> bytes:
        return json.dumps({
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion",
            "created": int(time.time()), "model": self.model,
            "choices": [{"index": 0, "finish_reason": answer.finish_reason,
                         "message": {"role": "assistant", "content": answer.content}}],
            "usage": {"prompt_tokens": answer.prompt_tokens,
                      "completion_tokens": answer.completion_tokens,
                      "total_tokens": answer.prompt_tokens + answer.completion_tokens},
        }).encode()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server._lock:
                    server.requests.append({"path": self.path, "json": json.loads(body),
                                            "authorization": self.headers.get("Authorization")})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, b'{"error": {"message": "not found"}}')
                reply = server._next()
                if isinstance(reply, Answer):
                    return self._send(200, server._completion(reply))
                if reply.cut_after is None:
                    return self._send(reply.status, reply.body)
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body[:reply.cut_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the client sees a body shorter than announced

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def __enter__(self) -> "OpenAIServer":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
