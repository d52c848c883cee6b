"""An analyst behind any OpenAI-compatible chat-completions API (hosted or local)."""
from __future__ import annotations

import base64
import time

from provenant.config import Settings
from provenant.adapters.analysts.base import (
    SYSTEM_PROMPT, Analysis, AnalystError, AnalystRequest, InvalidAnswer, parse_signal,
    user_prompt)

PROVIDER = "openai-compatible"


class OpenAICompatibleAnalyst:
    """Sends the chart images and indicators, asks for strict JSON, retries bad answers."""

    provider = PROVIDER

    def __init__(self, settings: Settings) -> None:
        try:
            import openai
        except ImportError:
            raise AnalystError("the openai analyst needs the openai package: "
                               "pip install 'provenant[llm]'") from None
        self._openai = openai
        self.base_url = settings.llm_base_url
        self.model_name = settings.llm_model
        self.max_attempts = settings.llm_max_attempts
        # The SDK's own retries would hide attempts from the artifact; we count our own.
        self.client = openai.OpenAI(base_url=settings.llm_base_url,
                                    api_key=settings.llm_api_key or "not-needed",
                                    timeout=settings.llm_timeout_seconds, max_retries=0)

    def analyze(self, request: AnalystRequest) -> Analysis:
        """Ask up to llm_max_attempts times for a valid JSON signal; AnalystError if none."""
        text = user_prompt(request)
        content: list[dict] = [{"type": "text", "text": text}]
        content += [{"type": "image_url", "image_url": {"url": _data_url(chart.png)}}
                    for chart in request.charts]
        messages: list[dict] = [{"role": "system", "content": SYSTEM_PROMPT},
                                {"role": "user", "content": content}]
        usage = {"prompt_tokens": None, "completion_tokens": None}
        started = time.perf_counter()
        model, rejected = None, []
        for attempt in range(1, self.max_attempts + 1):
            answer = ""
            try:
                answer, finish_reason, model = self._complete(messages, usage)
                if finish_reason == "length":
                    raise InvalidAnswer("the answer was cut off (finish_reason=length)")
                signal = parse_signal(answer)
            except InvalidAnswer as exc:
                rejected.append({"attempt": attempt, "answer": answer, "problem": str(exc)})
                if answer:  # show the model its answer and what was wrong, then ask again
                    messages += [{"role": "assistant", "content": answer},
                                 {"role": "user", "content": f"That answer was invalid: {exc}. "
                                  "Reply with only the corrected JSON object."}]
                continue
            return Analysis(signal=signal, prompt=f"{SYSTEM_PROMPT}\n\n{text}", response=answer,
                            model_name=model or self.model_name, provider=PROVIDER,
                            latency_ms=round((time.perf_counter() - started) * 1000, 3),
                            attempts=attempt, rejected=rejected, **usage)
        exchange = {"prompt": f"{SYSTEM_PROMPT}\n\n{text}", "response": rejected[-1]["answer"],
                    "model_name": model or self.model_name, "provider": PROVIDER,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "attempts": self.max_attempts, "rejected": rejected, **usage}
        raise AnalystError(f"model {self.model_name} at {self.base_url or 'api.openai.com'} gave "
                           f"no valid signal in {self.max_attempts} attempt(s); last problem: "
                           f"{rejected[-1]['problem']}", exchange)

    def _complete(self, messages: list[dict], usage: dict) -> tuple[str, str | None, str | None]:
        """One chat completion: (text, finish_reason, model); adds token usage to `usage`.

        A reply that is broken in transit (cut off, not a completion, a 5xx/429) is an
        InvalidAnswer, so it costs an attempt; an unreachable server, a timeout or a
        refusal (4xx) cannot be fixed by asking again and raises AnalystError at once.
        """
        openai = self._openai
        where = self.base_url or "api.openai.com"
        try:
            reply = self.client.chat.completions.create(
                model=self.model_name, messages=messages, temperature=0,
                response_format={"type": "json_object"})
        except openai.APITimeoutError:
            raise AnalystError(f"the LLM API at {where} did not answer within "
                               f"{self.client.timeout} s") from None
        except openai.APIConnectionError as exc:
            if _never_connected(exc):
                raise AnalystError(f"cannot reach the LLM API at {where}: "
                                   f"{exc.__cause__ or exc}") from None
            raise InvalidAnswer(f"the reply was cut off in transit ({exc.__cause__ or exc})") \
                from None
        except openai.APIStatusError as exc:
            message = f"the LLM API at {where} answered HTTP {exc.status_code}: {_short(exc.message)}"
            if exc.status_code >= 500 or exc.status_code == 429:
                raise InvalidAnswer(message) from None
            raise AnalystError(message) from None
        except (ValueError, openai.APIResponseValidationError) as exc:
            raise InvalidAnswer(f"the reply is not a chat completion ({_short(str(exc))})") \
                from None
        if reply.usage is not None:
            for key in usage:
                value = getattr(reply.usage, key, None)
                if value is not None:
                    usage[key] = (usage[key] or 0) + value
        if not reply.choices:
            return "", None, reply.model
        choice = reply.choices[0]
        return (choice.message.content if choice.message else "") or "", choice.finish_reason, \
            reply.model


def _never_connected(exc: BaseException) -> bool:
    """Whether the connection failed before any request was sent (vs. broke mid-reply)."""
    # The SDK's HTTP stack varies (httpx, httpx2): match its ConnectError by name.
    cause = exc.__cause__
    while cause is not None:
        if type(cause).__name__ == "ConnectError" or isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
