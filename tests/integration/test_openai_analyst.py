"""The OpenAI-compatible analyst against a local HTTP server speaking that protocol (network)."""
from __future__ import annotations

import base64
import json

import pytest

from provenant.config import Settings
from provenant.adapters.analysts import AnalystError, ChartImage, get_analyst
from provenant.adapters.analysts.base import AnalystRequest
from provenant.domain.indicators import resample_weekly, snapshot
from provenant.adapters.market_data import fetch_bars
from tests.support.mlflow_server import free_port
from tests.support.openai_server import VALID_SIGNAL, OpenAIServer

PNG = b"\x89PNG\r\n\x1a\n" + b"chart-bytes"
INVALID_LEVELS = {**VALID_SIGNAL, "stop_loss": 120.0}


@pytest.fixture(scope="module")
def request_tsla() -> AnalystRequest:
    daily = fetch_bars("bundled", "TSLA", Settings()).to_frame()
    charts = [ChartImage("daily", PNG + b"d", 1), ChartImage("weekly", PNG + b"w", 2)]
    return AnalystRequest("TSLA", snapshot(daily, "daily"),
                          snapshot(resample_weekly(daily), "weekly"), charts)


@pytest.fixture
def server():
    with OpenAIServer() as srv:
        yield srv


def analyst(url: str, attempts: int = 3):
    return get_analyst("openai", Settings(llm_base_url=url, llm_model="vision-test",
                                          llm_api_key="sk-test", llm_max_attempts=attempts,
                                          llm_timeout_seconds=10))


def test_sends_charts_as_data_urls_and_asks_for_strict_json(server, request_tsla):
    analysis = analyst(server.url).analyze(request_tsla)
    assert analysis.signal.action == "BUY" and analysis.attempts == 1
    assert (analysis.model_name, analysis.provider) == ("local-vision-model", "openai-compatible")
    assert (analysis.prompt_tokens, analysis.completion_tokens) == (1200, 80)
    assert analysis.latency_ms > 0 and json.loads(analysis.response) == VALID_SIGNAL
    [sent] = server.requests
    body = sent["json"]
    assert sent["authorization"] == "Bearer sk-test"
    assert body["model"] == "vision-test" and body["response_format"] == {"type": "json_object"}
    parts = body["messages"][1]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert [base64.b64decode(u.split(",", 1)[1]) for u in images] == [PNG + b"d", PNG + b"w"]
    assert all(u.startswith("data:image/png;base64,") for u in images)
    assert "Symbol: TSLA" in parts[0]["text"] and "Symbol: TSLA" in analysis.prompt


@pytest.mark.parametrize("queue, problem", [
    (lambda s: s.answer("Looks bullish to me, I'd buy."), "not valid JSON"),
    (lambda s: s.answer('{"action": "BUY", "confidence": 0.7, "sco', "length"), "cut off"),
    (lambda s: s.answer(INVALID_LEVELS), "stop_loss < entry_price"),
    (lambda s: s.answer(None), "empty"),
    (lambda s: s.raw(200, b'{"id": "x", "choices": [{"message": {"con'), "not a chat completion"),
    (lambda s: s.raw(200, json.dumps({"choices": []}).encode() * 3, cut_after=20), "in transit"),
    (lambda s: s.raw(503, b'{"error": {"message": "overloaded"}}'), "HTTP 503"),
])
def test_a_bad_answer_is_retried_and_kept_as_rejected(server, request_tsla, queue, problem):
    queue(server)
    analysis = analyst(server.url).analyze(request_tsla)
    assert analysis.signal.action == "BUY" and analysis.attempts == 2
    [rejected] = analysis.rejected
    assert problem in rejected["problem"] and rejected["attempt"] == 1
    assert len(server.requests) == 2


def test_the_retry_shows_the_model_its_invalid_answer(server, request_tsla):
    server.answer(INVALID_LEVELS)
    analyst(server.url).analyze(request_tsla)
    retry = server.requests[1]["json"]["messages"]
    assert retry[-2] == {"role": "assistant", "content": json.dumps(INVALID_LEVELS)}
    assert "invalid" in retry[-1]["content"] and "stop_loss" in retry[-1]["content"]


def test_gives_up_after_max_attempts_with_the_exchange(server, request_tsla):
    server.default = server.answer("not json").replies.popleft()
    with pytest.raises(AnalystError, match=r"no valid signal in 2 attempt\(s\).*not valid JSON") \
            as caught:
        analyst(server.url, attempts=2).analyze(request_tsla)
    assert len(server.requests) == 2
    exchange = caught.value.exchange
    assert exchange["response"] == "not json" and exchange["attempts"] == 2
    assert exchange["prompt_tokens"] == 2400 and len(exchange["rejected"]) == 2


def test_a_refusal_is_not_retried(server, request_tsla):
    server.raw(401, b'{"error": {"message": "invalid api key"}}')
    with pytest.raises(AnalystError, match="HTTP 401.*invalid api key"):
        analyst(server.url).analyze(request_tsla)
    assert len(server.requests) == 1


def test_an_unreachable_server_is_a_clear_error(request_tsla):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(AnalystError, match=f"cannot reach the LLM API at {url}"):
        analyst(url).analyze(request_tsla)
