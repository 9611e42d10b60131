"""Slack's HTTP endpoint: ``/slack/events`` served by uvicorn inside the application.

Bolt's own development server always binds 0.0.0.0; this binds the configured host, and the
application's shell (not uvicorn) owns SIGINT/SIGTERM.

Bolt parses a request's body before its middleware checks the signature, so an unsigned body that is
not JSON or a form would cost a 500 and a traceback in the log, and anyone who can reach the port
could fill the log that way. ``SignedRequests`` therefore checks the signature on the raw bytes first:
a bad or missing one is answered 401 (logged at most once a minute), and a signed body that Bolt
could not parse is answered 400. Only signed, well-formed requests reach Bolt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from core.errors import SupportLoopError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1 << 20  # Slack's payloads are a few kB; a larger body is not from Slack
REJECTED_LOG_S = 60.0  # at most one log line about bad signatures per this many seconds

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SignedRequests:
    """ASGI middleware in front of Bolt: a POST reaches ``inner`` only when its signature is valid and
    its body parses; otherwise it is answered 401 (signature) or 400 (body) without a traceback."""

    def __init__(self, inner: ASGIApp, signing_secret: str) -> None:
        self.inner = inner
        self.verifier = SignatureVerifier(signing_secret)
        self._rejected = 0  # bad signatures since the last log line about them
        self._logged_at = -REJECTED_LOG_S

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.inner(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, "request body too large")
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        if not self._signed(body, headers):
            self._note_rejected()
            await _respond(send, 401, "invalid request signature")
            return
        if not _parses(body, headers.get("content-type")):
            log.warning("answered 400 to a signed Slack request whose body is not JSON or a form")
            await _respond(send, 400, "malformed request body")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.inner(scope, replay, send)

    def _signed(self, body: bytes, headers: dict[str, str]) -> bool:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature")
        if not timestamp.isdigit() or not signature:
            return False
        try:
            return self.verifier.is_valid(body.decode("utf-8"), timestamp, signature)
        except UnicodeDecodeError:  # Slack signs UTF-8 text; these bytes cannot be from Slack
            return False

    def _note_rejected(self) -> None:
        """One short line a minute, however many requests are rejected: a flood cannot fill the log."""
        self._rejected += 1
        now = time.monotonic()
        if now - self._logged_at >= REJECTED_LOG_S:
            log.warning(
                "rejected %d Slack request(s) with a missing, wrong or stale signature (401)", self._rejected
            )
            self._rejected, self._logged_at = 0, now


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None once it passes ``MAX_BODY_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parses(body: bytes, content_type: str | None) -> bool:
    """Whether Bolt can read ``body``: JSON, or a form (with a JSON ``payload``), giving an object."""
    try:
        return isinstance(parse_body(body.decode("utf-8"), content_type), dict)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return False


async def _respond(send: Send, status: int, text: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside the application: the application's shell owns SIGINT/SIGTERM, not the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SlackHttpEndpoint:
    """Serves a Bolt app's events, interactions and commands over HTTP on ``host:port``, signed ones only."""

    def __init__(self, app: AsyncApp, signing_secret: str, host: str, port: int) -> None:
        self.app = app
        self.signing_secret = signing_secret
        self.host = host
        self.port = port  # the bound port once started (also when 0 asked for any)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve; a port that is taken or a host that doesn't exist is a one-line error."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            raise SupportLoopError(
                f"Cannot listen for Slack on {self.host}:{self.port} ({exc.strerror or exc}); "
                "set SUPPORTLOOP_SLACK_HOST / SUPPORTLOOP_SLACK_PORT."
            ) from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            SignedRequests(AsyncSlackRequestHandler(self.app, EVENTS_PATH), self.signing_secret),
            log_config=None,
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=5,
        )
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="slack-http")
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if not server.started:
            sock.close()
            with contextlib.suppress(BaseException):
                await task
            raise SupportLoopError(f"The Slack HTTP endpoint on {self.host}:{self.port} did not start.")
        self._server, self._task = server, task

    async def stop(self) -> None:
        """Finish the requests in hand (up to 10 s), then close."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True  # uvicorn finishes the requests it has, then returns
        _, late = await asyncio.wait({self._task}, timeout=10)
        for task in late:
            task.cancel()
        self._server = self._task = None
