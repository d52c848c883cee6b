"""Hostile input: paths that try to escape, malformed and oversized requests, fake images,
and names, prompts and responses that try to run script in every page of the web UI."""
from __future__ import annotations

import logging
import socket
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

import provenant.http.web
from provenant.http.app import create_app
from provenant.artifacts import store_chart_artifact, store_llm_artifact, store_signal_artifact
from provenant.bootstrap import Services, configure, reset_services
from provenant.domain.artifacts import NewArtifact
from tests.support.api import (
    AUTH, LiveServer, concrete, png_bytes, signal_body, writes_with_a_chart)
from tests.support.browser import serve_app

SCRIPT = '<script>window.__pwned = 1; alert("xss")</script>'
IMG = '<img src=x onerror="window.__pwned = 2">'
QUOTES = "\" onmouseover=\"window.__pwned = 3\" x=\"' onfocus='window.__pwned = 4' autofocus='"
JS_URL = "javascript:window.__pwned = 5"
HOSTILE = f"{SCRIPT}{IMG}{QUOTES}{JS_URL}"
SHORT = '"><svg onload=alert(1)>'  # fits the 32-character symbol and chart type fields
SECRETS = (b"root:x:0:0", b"async def services_of", b"[project]", b"SECRET-OUTSIDE")


@pytest.fixture(autouse=True)
def _forget_services():
    yield
    reset_services()


def raw_http(port: int, request: bytes, *, half_close: bool = False) -> bytes:
    """One request exactly as given (no client normalises `..` or encodings away)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


TRAVERSALS = [
    "/static/../../../../../../etc/passwd", "/static/%2e%2e/%2e%2e/api/deps.py",
    "/static/..%2f..%2fapi%2fdeps.py", "/static/%252e%252e/%252e%252e/api/deps.py",
    "/static/..\\..\\api\\deps.py", "/static/%2e%2e%5c%2e%2e%5capi%5cdeps.py",
    "/static/....//....//api/deps.py", "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/api/deps.py",
    "/static//etc/passwd", "/static/app.css%00.png", "/static/%00",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/../../../../pyproject.toml",
    "/api/artifacts/..%2f..%2fetc%2fpasswd", "/api/artifacts/%2e%2e/image",
    "/api/artifacts/1/..%2f..%2f..%2fetc%2fpasswd", "/api/executions/../../etc/passwd",
    "/api/executions/..%2f..%2f..%2fetc%2fpasswd", "/artifacts/..%2f..%2fetc%2fpasswd",
    "/artifacts/%2e%2e%2f%2e%2e%2fpyproject.toml/drawer",
]


def test_no_path_escapes_its_folder(make_settings, mlflow_uri, tmp_path):
    (tmp_path / "secret.txt").write_text("SECRET-OUTSIDE the blob and static folders")
    services = configure(make_settings(mlflow_tracking_uri=mlflow_uri))
    with LiveServer(create_app(services)) as live:
        answers = {path: raw_http(live.port, get(path)) for path in TRAVERSALS}
        # A row edited to point its image outside the blob store (keys are never paths).
        chart = store_chart_artifact(name="c", symbol="TSLA", image=png_bytes(),
                                     chart_type="daily", services=services)
        for key in ("../../secret.txt", "../secret.txt", "/etc/passwd"):
            with services.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE artifacts SET image_key = ? WHERE id = ?",
                                     (key, chart.id))
            answers[f"image key {key}"] = raw_http(live.port,
                                                   get(f"/api/artifacts/{chart.id}/image"))
    for name, answer in answers.items():
        assert status_of(answer) in (307, 400, 404, 422), (name, answer[:200])
        assert not any(secret in answer for secret in SECRETS), name


_CLOSE = b"Connection: close\r\n\r\n"
# Broken HTTP: the server (not the app) must answer 4xx.
MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n" + _CLOSE,
    b"POST /api/artifacts HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n" + _CLOSE + b"{}",
    b"POST /api/artifacts HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n" + _CLOSE + b"{}",
    b"POST /api/artifacts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + _CLOSE
    + b"zz\r\nabc\r\n0\r\n\r\n",
]
# Requests that reach the app, with the token: (method, path, content type, body).
MALFORMED_FOR_THE_APP = [
    ("POST", "/api/artifacts", "application/json", b"{not json"),
    ("POST", "/api/artifacts", "application/json", b"\xff\xfe\x00\x01{"),
    ("POST", "/api/artifacts", "text/plain", b"{}"),
    ("POST", "/api/artifacts", "application/json", b"[]"),
    ("POST", "/api/artifacts", "application/json", b'{"type": "signal", "name": "\\ud800"}'),
    ("POST", "/api/artifacts", "application/json", b'{"type": "signal", "name": "a\\u0000"}'),
    ("POST", "/api/artifacts", "application/json", b"1" * 5000),
    ("POST", "/api/artifacts", "application/json", b"[" * 5000 + b"]" * 5000),
    ("POST", "/api/lineage/repair", "application/json", b"\x00\x01\x02"),
    ("POST", "/api/lineage/repair", "application/json", b'{"dry_run": "yes"}'),
    ("PUT", "/api/artifacts/1/image", "image/png", b""),
    ("GET", "/api/artifacts?cursor=%zz&limit=1e3", None, b""),
    ("GET", "/api/artifacts/%zz", None, b""),
    ("GET", "/api/lineage/repairs?artifact_id=99999999999999999999999", None, b""),
    ("GET", "/artifacts?symbol=%00", None, b""),
    ("GET", "/artifacts?limit=%ff", None, b""),
    ("GET", "/artifacts?cursor=%00", None, b""),
    ("GET", "/artifacts/99999999999999999999999", None, b""),
    ("GET", "/artifacts/99999999999999999999999/drawer", None, b""),
]
# Odd but well-formed: any answer but a 5xx.
ODD_FOR_THE_APP = [
    ("GET", "/api/artifacts?execution_id=%ff%fe&workflow_id=%c0%ae", None, b""),
    ("GET", "/api/artifacts?symbol=%00", None, b""),  # SQLite can hold NUL, PostgreSQL not
    ("GET", "/api/executions/%00%ff", None, b""),
    ("GET", "/artifacts?execution_id=%ff%fe&group=execution", None, b""),
]


def app_request(method: str, path: str, content_type: str | None, body: bytes) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH['Authorization']}"
            f"\r\nContent-Length: {len(body)}\r\n"
            + (f"Content-Type: {content_type}\r\n" if content_type else "")
            + "Connection: close\r\n\r\n").encode() + body


def test_malformed_requests_get_a_4xx_never_a_5xx(api_settings, caplog):
    services = configure(api_settings())
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addHandler(caplog.handler)
    answers, odd = {}, {}
    try:
        with LiveServer(create_app(services)) as live:
            for request in MALFORMED:
                answers[request[:40]] = raw_http(live.port, request)
            for request in MALFORMED_FOR_THE_APP:
                answers[request[:3]] = raw_http(live.port, app_request(*request))
            for request in ODD_FOR_THE_APP:
                odd[request[:2]] = raw_http(live.port, app_request(*request))
            # A client that gives up halfway through its body.
            cut = (b"PUT /api/artifacts/1/image HTTP/1.1\r\nHost: x\r\nAuthorization: "
                   + AUTH["Authorization"].encode() + b"\r\nContent-Length: 100\r\n\r\nabc")
            raw_http(live.port, cut, half_close=True)
            assert httpx.get(f"{live.url}/api/health").status_code == 200
    finally:
        uvicorn_errors.removeHandler(caplog.handler)
    for name, answer in answers.items():
        assert 400 <= status_of(answer) < 500, (name, answer[-300:])
        assert b"Traceback" not in answer
    for name, answer in odd.items():
        assert status_of(answer) < 500, (name, answer[-300:])
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert services.artifacts.count() == 0


def test_every_write_route_refuses_an_oversized_body_declared_or_streamed(api_settings):
    with writes_with_a_chart(api_settings, 2048) as (services, client, routes, chart):
        big = b'{"note": "' + b"x" * 4096 + b'"}'
        for method, path in routes:
            declared = client.request(method, concrete(path, chart["id"]), content=big,
                                      headers={**AUTH, "Content-Type": "application/json"})
            streamed = client.request(method, concrete(path, chart["id"]),
                                      content=iter([big[:1000], big[1000:]]),
                                      headers={**AUTH, "Content-Type": "application/json"})
            if method == "DELETE":  # refused without reading any body: nothing to limit
                assert {declared.status_code, streamed.status_code} == {405}, path
                continue
            for answer in (declared, streamed):
                assert answer.status_code == 413, (method, path, answer.text)
                assert "2048" in answer.json()["detail"]
        assert client.get(f"/api/artifacts/{chart['id']}").json()["has_image"] is False
    assert services.artifacts.count() == 1 and services.artifacts.repairs() == []


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid PNG whose header claims `width` x `height` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("content, content_type, says", [
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml",
     "not an image"),
    (b"<html><script>alert(1)</script></html>", "image/png", "not an image"),
    (b"GIF89a<script>alert(1)</script>", "image/gif", "does not decode"),
    (b"%PDF-1.4 trailer", "application/pdf", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>", "image/png", "does not decode"),
    (png_declaring(100_000, 100_000), "image/png", "does not decode"),  # a pixel bomb
])
def test_only_real_images_are_stored(api_settings, start_api, content, content_type, says):
    client = start_api(api_settings())
    chart = client.post("/api/artifacts", headers=AUTH, json=signal_body(
        type="chart", name="c", payload={"chart_type": "daily"})).json()
    answer = client.put(f"/api/artifacts/{chart['id']}/image", content=content,
                        headers={**AUTH, "Content-Type": content_type})
    assert answer.status_code == 422 and says in answer.json()["detail"]
    assert client.get(f"/api/artifacts/{chart['id']}").json()["has_image"] is False


def test_an_image_is_served_as_what_its_bytes_are_not_what_the_uploader_said(api_settings,
                                                                            start_api):
    client = start_api(api_settings())
    chart = client.post("/api/artifacts", headers=AUTH, json=signal_body(
        type="chart", name="c", payload={"chart_type": "daily"})).json()
    client.put(f"/api/artifacts/{chart['id']}/image", content=png_bytes(),
               headers={**AUTH, "Content-Type": "text/html"})
    served = client.get(f"/api/artifacts/{chart['id']}/image")
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]


# --- Rendering: every page of the web UI shows hostile text as text ------------------------

def store_hostile(services: Services) -> dict[str, int]:
    """Hostile text in every field a page shows, across an execution of three artifacts."""
    context = {"workflow_id": f"wf {QUOTES}", "execution_id": f"exec {HOSTILE}",
               "services": services}
    llm = store_llm_artifact(name=f"Hostile {HOSTILE}", symbol=SHORT, prompt=f"p {HOSTILE}",
                             response=f"r {HOSTILE}", model_name=f"{SCRIPT}{IMG}",
                             step_name=f"step {SCRIPT}", provider=JS_URL,
                             **{f"k{SHORT}": [HOSTILE, {JS_URL: IMG}]}, **context)
    chart = store_chart_artifact(name=f"Chart {QUOTES}", symbol=SHORT, image=png_bytes(),
                                 chart_type=SHORT, step_name=JS_URL,
                                 indicators={SCRIPT: IMG, "rsi_14": JS_URL}, **context)
    signal = store_signal_artifact(name=JS_URL, symbol=SHORT, action="BUY", confidence=0.5,
                                   rationale=HOSTILE, **context)
    forged = services.artifacts.add(NewArtifact(  # lineage as an edited legacy row might say
        type="signal", name=f"Forged run {SCRIPT}", run_id=JS_URL, experiment_id='1"><b',
        payload={"action": "SELL", "confidence": 0.1}))
    return {"llm": llm.id, "chart": chart.id, "signal": signal.id, "forged": forged.id}


def hostile_pages(ids: dict[str, int]) -> dict[str, str]:
    """Every page and fragment of the UI, with hostile values wherever a URL can carry them."""
    execution = f"exec {HOSTILE}"
    return {
        "list": "/artifacts",
        "grouped": "/artifacts?group=execution",
        "filtered": "/artifacts?" + urlencode({"execution_id": execution, "symbol": SHORT,
                                               "workflow_id": HOSTILE}),
        "filtered, grouped": "/artifacts?" + urlencode({"execution_id": execution,
                                                        "group": "execution"}),
        "bad filter": "/artifacts?" + urlencode({"type": HOSTILE}),
        "bad lineage": "/artifacts?" + urlencode({"lineage": JS_URL}),
        "bad cursor": "/artifacts?" + urlencode({"cursor": HOSTILE[:100]}),
        "llm drawer": f"/artifacts/{ids['llm']}?" + urlencode({"symbol": HOSTILE}),
        "chart drawer": f"/artifacts/{ids['chart']}",
        "signal drawer": f"/artifacts/{ids['signal']}",
        "forged lineage": f"/artifacts/{ids['forged']}",
        "drawer fragment": f"/artifacts/{ids['llm']}/drawer?" + urlencode({"type": HOSTILE}),
        "missing": "/artifacts/987654?" + urlencode({"symbol": HOSTILE}),
    }


# The only scripts a page may load: the web UI's own files, never inline code.
OWN_SCRIPTS = {f"/static/{path.name}" for path in
               (Path(provenant.http.web.__file__).parent / "static").glob("*.js")}


class MarkupAudit(HTMLParser):
    """What a browser would build from a page: script, handlers, URLs; and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and values.get("src") not in OWN_SCRIPTS:
            self.problems.append(f"<script {values}>")
        if tag in ("svg", "iframe", "object", "embed", "base"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "autofocus":
                self.problems.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction") and (value or "").strip(
                    ).lower().startswith(("javascript:", "data:", "vbscript:")):
                self.problems.append(f"{tag}[{name}={value}]")
        self.text.extend(v for n, v in attrs if n == "value" and v)

    def handle_data(self, data):
        self.text.append(data)


def audit(html: str) -> MarkupAudit:
    checked = MarkupAudit()
    checked.feed(html)
    return checked


def test_every_page_renders_hostile_text_as_text(make_settings, mlflow_uri):
    services = configure(make_settings(mlflow_tracking_uri=mlflow_uri))
    ids = store_hostile(services)
    expected_text = {"list": f"Hostile {HOSTILE}", "grouped": f"exec {HOSTILE}",
                     "filtered": HOSTILE, "bad filter": SCRIPT + IMG, "llm drawer": f"r {HOSTILE}",
                     "chart drawer": IMG, "signal drawer": HOSTILE,
                     "forged lineage": "not a valid MLflow id", "drawer fragment": f"p {HOSTILE}"}
    with TestClient(create_app(services)) as client:
        for name, path in hostile_pages(ids).items():
            answer = client.get(path)
            assert answer.status_code in (200, 400, 404), (name, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html")
            assert answer.headers["content-security-policy"].startswith("default-src 'self'")
            checked = audit(answer.text)
            assert checked.problems == [], (name, checked.problems)
            if name in expected_text:
                assert expected_text[name] in "".join(checked.text), name
            assert SCRIPT not in answer.text and IMG not in answer.text, name
        forged = client.get(f"/api/artifacts/{ids['forged']}").json()
        assert forged["lineage"]["mlflow_run_url"] is None


@pytest.mark.browser
def test_no_page_runs_hostile_text_in_a_browser(page, make_settings, mlflow_uri):  # noqa: F811
    services = configure(make_settings(mlflow_tracking_uri=mlflow_uri))
    ids = store_hostile(services)
    injected = ("script:not([src]), svg, iframe, [onerror], [onload], [onmouseover], "
                "[onfocus], [autofocus], a[href^='javascript' i]")
    with serve_app(services) as url:
        for name, path in hostile_pages(ids).items():
            page.goto(url + path)
            assert page.locator(injected).count() == 0, name
            page.mouse.move(300, 300)  # hover and focus whatever sits there
            page.keyboard.press("Tab")
        # The drawer opened by the page's script (fetched, parsed with DOMParser).
        page.goto(f"{url}/artifacts?group=execution")
        page.get_by_role("link", name=f"Hostile {HOSTILE}").click()
        drawer = page.get_by_role("dialog")
        drawer.wait_for()
        assert drawer.get_by_test_id("text-response").inner_text() == f"r {HOSTILE}"
        assert page.locator(injected).count() == 0
        drawer.get_by_role("link", name=JS_URL).click()  # a sibling named like a URL
        page.get_by_role("dialog").get_by_text(HOSTILE).first.wait_for()
        assert page.evaluate("window.__pwned") is None
        assert page.dialogs == []
