"""A local stand-in for an OpenAI-compatible model server (vLLM, TGI, Ollama) on 127.0.0.1.

It answers ``POST /v1/chat/completions`` as vLLM does: a whole ``chat.completion`` or, with
``"stream": true``, server-sent ``chat.completion.chunk`` events word by word and then ``[DONE]``.
A request asking for ``logprobs`` is answered with the first token's ``top_logprobs``, from ``judge``
(the messages → log-probabilities by token), as vLLM lists them. Errors use vLLM's body
(``{"object": "error", "message": ..., "code": ...}``). Tests script failures
for the next requests and read back every request it received::

    with FakeModelServer(api_key="k") as server:
        server.fail_next(Failure(status=503), Failure(drop_mid_stream=True))
        ...
        assert server.requests[-1]["max_tokens"] == 64
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakes.server_thread import ServerThread


@dataclass(frozen=True)
class Failure:
    """What to do instead of answering one request."""

    status: int = 0  # answer with this HTTP status and an error body
    drop_mid_stream: bool = False  # send one chunk, then close the connection without [DONE]
    stall_s: float = 0.0  # wait this long before answering
    error_in_stream: bool = False  # send an error event inside a 200 stream


def echo(messages: list[dict[str, str]]) -> str:
    return "You asked: " + messages[-1]["content"]


Judge = Callable[[list[dict[str, str]]], dict[str, float]]


class FakeModelServer(ServerThread):
    name = "fake model server"

    def __init__(
        self,
        *,
        model: str = "supportloop",
        api_key: str | None = None,
        reply: Callable[[list[dict[str, str]]], str] = echo,
        judge: Judge | None = None,
    ) -> None:
        super().__init__()
        self.model, self.api_key, self.reply, self.judge = model, api_key, reply, judge
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.most_in_flight = 0  # requests being answered at once
        self._failures: list[Failure] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, *failures: Failure) -> None:
        self._failures.extend(failures)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._complete)

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Unauthorized")
        if body.get("model") != self.model:
            return _error(404, f"The model `{body.get('model')}` does not exist.")
        failure = self._failures.pop(0) if self._failures else Failure()
        if failure.stall_s:
            await asyncio.sleep(failure.stall_s)
        if failure.status:
            return _error(failure.status, "scripted failure")
        if body.get("logprobs") and self.judge:
            return web.json_response(_judged(self.judge(body["messages"]), body.get("top_logprobs", 0)))
        words = self.reply(body["messages"]).split(" ")[: body.get("max_tokens", 16)]
        if not body.get("stream"):
            message = {"role": "assistant", "content": " ".join(words)}
            return web.json_response(
                {
                    "object": "chat.completion",
                    "model": self.model,
                    "choices": [{"index": 0, "message": message}],
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for n, word in enumerate(words):
            delta = {"content": word if n == 0 else " " + word}
            await _send(
                response, {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
            )
            if failure.drop_mid_stream:
                request.transport.close()  # type: ignore[union-attr]
                return response
        if failure.error_in_stream:
            await _send(response, {"error": {"message": "scripted stream failure", "code": 500}})
            return response
        await response.write(b"data: [DONE]\n\n")
        return response


def _judged(logprobs: dict[str, float], top: int) -> dict[str, Any]:
    """A one-token ``chat.completion`` with the ``top`` likeliest tokens listed, as vLLM sends it."""
    listed = sorted(logprobs.items(), key=lambda item: -item[1])[:top]
    first = listed[0][0] if listed else ""
    top_logprobs = [
        {"token": token, "logprob": logprob, "bytes": list(token.encode())} for token, logprob in listed
    ]
    content = [{"token": first, "logprob": listed[0][1] if listed else 0.0, "top_logprobs": top_logprobs}]
    return {
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": first}, "logprobs": {"content": content}}
        ],
    }


async def _send(response: web.StreamResponse, event: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(event)}\n\n".encode())


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"object": "error", "message": message, "type": "Error", "code": status}, status=status
    )
