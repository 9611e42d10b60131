"""Chat generation by an OpenAI-compatible server (vLLM, TGI, Ollama, …) instead of the local model.

Scale-out deployments run one model server that every bot replica shares; the server batches the
requests of all replicas itself, so each conversation of a batch is sent as its own request, all at
once. Replies are streamed by default: a server that stalls is noticed by the read timeout between two
chunks, while a long answer that keeps arriving is never cut by an overall deadline.

Errors: 429, 5xx, timeouts and refused connections are retried with exponential backoff; what then
still fails, and every other refusal (a wrong key, an unknown model), raises ``LLMServerError`` with a
one-line message saying what to check. The answerer falls back to quoting the passages when that happens.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

import httpx

from core.errors import LLMServerError
from core.llm import ChatBackend, Conversation

log = logging.getLogger(__name__)

RETRIED_STATUS = {429, 500, 502, 503, 504}
BACKOFF_S = 0.5
TOP_LOGPROBS = 20  # the most vLLM returns by default (--max-logprobs)
T = TypeVar("T")


class OpenAICompatibleBackend(ChatBackend):
    """POSTs ``/chat/completions`` under ``base_url`` (which ends in ``/v1`` for vLLM and Ollama)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        temperature: float = 0.0,
        timeout_s: float = 60.0,
        retries: int = 2,
        stream: bool = True,
        max_parallel: int = 16,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.temperature = temperature
        self.retries = retries
        self.stream = stream
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        )
        self._pool = ThreadPoolExecutor(max_parallel, thread_name_prefix="llm-http")

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        futures = [self._pool.submit(self.complete, c, max_new_tokens) for c in conversations]
        return [f.result() for f in futures]

    def complete(self, conversation: Conversation, max_new_tokens: int) -> str:
        """One reply, retried on overload and transient failures."""
        payload = {
            "model": self.model,
            "messages": [dict(m) for m in conversation],
            "max_tokens": max_new_tokens,
            "temperature": self.temperature,
            "stream": self.stream,
        }
        read = self._streamed if self.stream else self._whole
        return self._retried(lambda: read(payload).strip())

    def yes_no_margins(self, conversations: Sequence[Conversation]) -> list[float]:
        """For each conversation, how much likelier the model is to answer "YES" than "NO" next: the
        log-probability of one minus the other's, read from the first token's ``top_logprobs``.

        A judgement read from both answers' probabilities, not from the sampled word, is a score that a
        classifier can weigh (``rag.harm_reader``). An answer missing from the top ``TOP_LOGPROBS`` gets
        the lowest one listed: it is at most that likely. A failure is raised once every request has
        ended, so none is left in flight when the caller gives up and closes the backend."""
        futures = [self._pool.submit(self._yes_no_margin, c) for c in conversations]
        wait(futures)
        return [f.result() for f in futures]

    def _yes_no_margin(self, conversation: Conversation) -> float:
        payload = {
            "model": self.model,
            "messages": [dict(m) for m in conversation],
            "max_tokens": 1,
            "temperature": 0.0,
            "stream": False,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }

        def ask() -> float:
            with self._post(payload) as response:
                response.read()
            return self._margin(_json_or_text(response))

        return self._retried(ask)

    def _margin(self, body: object) -> float:
        try:
            top = body["choices"][0]["logprobs"]["content"][0]["top_logprobs"]  # type: ignore[index]
            listed = [(str(t["token"]).strip().upper(), float(t["logprob"])) for t in top]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise LLMServerError(
                f"The model server at {self.url} sent no log-probabilities of its answer "
                f"({str(body)[:200]!r}); the harm check needs a server that returns `top_logprobs` "
                "(vLLM does)."
            ) from exc
        if not listed:
            raise LLMServerError(f"The model server at {self.url} listed no `top_logprobs` of its answer.")
        floor = min(logprob for _, logprob in listed)
        yes, no = (max((lp for word, lp in listed if word == w), default=floor) for w in ("YES", "NO"))
        return yes - no

    def _retried(self, request: Callable[[], T]) -> T:
        """``request()``, tried again with backoff on overload and transient failures."""
        for attempt in range(self.retries + 1):
            try:
                return request()
            except _Retryable as exc:
                if attempt == self.retries:
                    raise LLMServerError(
                        f"The model server at {self.url} failed {attempt + 1} times ({exc}); check that it "
                        "is running and serving SUPPORTLOOP_LLM_MODEL."
                    ) from exc
                log.warning("model server: %s; retrying", exc)
                time.sleep(BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")

    def _whole(self, payload: dict[str, object]) -> str:
        with self._post(payload) as response:
            response.read()
        try:
            return response.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMServerError(
                f"The model server at {self.url} sent a reply that is not a chat completion: "
                f"{response.text[:200]!r}"
            ) from exc

    def _streamed(self, payload: dict[str, object]) -> str:
        parts = []
        with self._post(payload) as response:
            for event in _server_sent_events(response.iter_lines()):
                if event == "[DONE]":
                    return "".join(parts)
                try:
                    chunk = json.loads(event)
                except ValueError as exc:
                    raise LLMServerError(
                        f"The model server at {self.url} streamed something that is not JSON: {event[:200]!r}"
                    ) from exc
                if "error" in chunk:
                    raise _Retryable(f"error in the stream: {_message(chunk)}")
                for choice in chunk.get("choices") or []:
                    parts.append((choice.get("delta") or {}).get("content") or "")
        raise _Retryable("the stream ended before [DONE]")

    @contextmanager
    def _post(self, payload: dict[str, object]) -> Iterator[httpx.Response]:
        """The open response to a POST, or ``_Retryable`` / ``LLMServerError`` saying why there is none."""
        try:
            with self._client.stream("POST", self.url, json=payload) as response:
                if response.status_code != 200:
                    response.read()
                    raise self._refusal(response)
                yield response
        except httpx.TransportError as exc:  # timeouts, refused and dropped connections
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc

    def _refusal(self, response: httpx.Response) -> Exception:
        reason = f"HTTP {response.status_code}: {_message(_json_or_text(response))}"
        if response.status_code in RETRIED_STATUS:
            return _Retryable(reason)
        hint = {
            401: "check SUPPORTLOOP_LLM_API_KEY",
            403: "check SUPPORTLOOP_LLM_API_KEY",
            404: "check SUPPORTLOOP_LLM_URL (it usually ends in /v1) and SUPPORTLOOP_LLM_MODEL",
        }.get(response.status_code, "check the model server's log")
        return LLMServerError(f"The model server at {self.url} refused the request ({reason}); {hint}.")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


class _Retryable(Exception):
    """A failure worth another try: overload, a server error, a timeout, a dropped connection."""


def _server_sent_events(lines: Iterator[str]) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent event stream (comments and other fields skipped)."""
    for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()


def _json_or_text(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def _message(body: object) -> str:
    """The error message an OpenAI-compatible server put in its body, shortened."""
    if isinstance(body, dict):
        error = body.get("error", body)
        text = error.get("message", error) if isinstance(error, dict) else error
    else:
        text = body
    return str(text).strip()[:200] or "no message"
