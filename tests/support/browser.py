"""The app served for a browser, and what a page must never show."""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from provenant.http.app import create_app
from provenant.bootstrap import Services
from tests.support.mlflow_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
LAPTOP = {"width": 1366, "height": 768}
NULL_WORDS = re.compile(r"\b(null|None|undefined|NaN)\b")


@contextmanager
def serve_app(services: Services) -> Iterator[str]:
    """The real app (API + UI) under uvicorn on a free loopback port, in a thread."""
    port = free_port()
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="ui-server")
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped before it started serving")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def null_words_in(locator) -> list[str]:
    """Every null/None/undefined/NaN in an element's text or attribute values."""
    texts = locator.evaluate(
        """el => [el.innerText, ...Array.from(el.querySelectorAll('*'))
                  .flatMap(e => Array.from(e.attributes).map(a => a.value))]""")
    return [m for text in texts for m in NULL_WORDS.findall(text)]
