"""A local stand-in for Slack: Web API, Socket Mode websocket, and the signed requests Slack sends to a bot
(``slack_requests``, inherited).

End-to-end tests of the Slack adapter need a Slack that answers like the real one (``{"ok": ...}`` JSON
with HTTP 200, 429 + ``Retry-After``, ``invalid_auth``), records what the bot asked for, and can push
events to the bot, without any network beyond loopback. One aiohttp server serves both ``/api/<method>``
and ``/socket``; it runs in its own thread with its own event loop so plain synchronous tests can use it::

    with FakeSlack(users={"U1": {"is_admin": True}}) as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        ...
        assert slack.calls_to("chat.postMessage")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from fakes.server_thread import ServerThread
from fakes.slack_requests import BotRequests

T = TypeVar("T")
Params = dict[str, Any]
Handler = Callable[[Params], dict[str, Any]]

AUTH_TEST = {
    "user_id": "UBOT",
    "user": "supportloop",
    "bot_id": "BBOT",
    "team_id": "T1",
    "team": "Test",
    "url": "https://test.slack.com/",
}


class FakeSlack(BotRequests, ServerThread):
    """Fake Slack server (Web API + Socket Mode) in a background thread; use it as a context manager."""

    name = "fake Slack"

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        users: dict[str, dict[str, Any]] | None = None,
        team_id: str = "T1",
        api_app_id: str = "A1",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.users = {uid: dict(fields) for uid, fields in (users or {}).items()}
        self.team_id = team_id
        self.api_app_id = api_app_id
        super().__init__()
        # What the bot did, for assertions. Guarded by _lock: written in the server thread, read in tests.
        self.calls: list[tuple[str, Params]] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.socket_connections = 0
        self._lock = threading.Lock()
        self._ts_counter = itertools.count(1)
        self._rate_limits: dict[str, list[int]] = {}  # method -> [times left, retry_after]
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "reactions.add": self._reactions_add,
            "users.info": self._users_info,
            "views.open": self._views_open,
        }
        self._ws: web.WebSocketResponse | None = None
        self._all_ws: set[web.WebSocketResponse] = set()
        self._connected: asyncio.Event | None = None
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    # ----------------------------------------------------------------- lifecycle

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)`` (trailing slash matters to slack_sdk)."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def socket_url(self) -> str:
        """What ``apps.connections.open`` hands out."""
        return f"ws://127.0.0.1:{self.port}/socket"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)

    async def on_start(self) -> None:
        self._connected = asyncio.Event()

    async def on_stop(self) -> None:
        for ws in list(self._all_ws):
            await ws.close()
        for fut in self._pending_acks.values():
            fut.cancel()

    # ----------------------------------------------------------------- test-side helpers

    def calls_to(self, method: str) -> list[Params]:
        """Params of every recorded call to ``method``, in order (rate-limited attempts included)."""
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Make the next ``times`` calls to ``method`` answer HTTP 429 with ``Retry-After``."""
        with self._lock:
            self._rate_limits[method] = [times, retry_after]

    def add_user(self, user_id: str, **fields: Any) -> None:
        """Register (or update) a user for ``users.info``."""
        with self._lock:
            self.users.setdefault(user_id, {}).update(fields)

    # ----------------------------------------------------------------- Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        with self._lock:
            self.calls.append((method, params))
            limit = self._rate_limits.get(method)
            if limit and limit[0] > 0:
                limit[0] -= 1
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(limit[1])}
                )
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else params.get("token")
        if method == "apps.connections.open":
            if token != self.app_token:
                return _error(
                    "invalid_auth" if not str(token or "").startswith("xoxb-") else "not_allowed_token_type"
                )
            return web.json_response({"ok": True, "url": self.socket_url})
        if token != self.bot_token:
            return _error("invalid_auth" if token else "not_authed")
        handler = self._handlers.get(method)
        if handler is None:
            return _error("unknown_method")
        with self._lock:
            return web.json_response(handler(params))

    def _next_ts(self) -> str:
        """Unique, increasing message ts in Slack's ``seconds.micros`` form."""
        micros = next(self._ts_counter) * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _auth_test(self, params: Params) -> dict[str, Any]:
        return {"ok": True, **AUTH_TEST, "team_id": self.team_id}

    def _chat_post_message(self, params: Params) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": AUTH_TEST["user_id"],
            "bot_id": "BBOT",
            "ts": ts,
        }
        for key in ("text", "blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = _maybe_json(params[key])
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: Params) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        message = self.messages.get((str(channel), str(ts)))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        for key in ("text", "blocks", "attachments", "metadata"):
            if params.get(key) is not None:
                message[key] = _maybe_json(params[key])
        message["edited"] = {"user": AUTH_TEST["user_id"], "ts": self._next_ts()}
        return {"ok": True, "channel": channel, "ts": ts, "text": message.get("text", ""), "message": message}

    def _chat_post_ephemeral(self, params: Params) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        ts = self._next_ts()
        self.ephemerals.append({**params, "message_ts": ts})
        return {"ok": True, "message_ts": ts}

    def _reactions_add(self, params: Params) -> dict[str, Any]:
        message = self.messages.get((str(params.get("channel")), str(params.get("timestamp"))))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        name = str(params.get("name", ""))
        reactions = message.setdefault("reactions", [])
        if any(r["name"] == name for r in reactions):
            return {"ok": False, "error": "already_reacted"}
        reactions.append({"name": name, "users": [AUTH_TEST["user_id"]], "count": 1})
        return {"ok": True}

    def _users_info(self, params: Params) -> dict[str, Any]:
        user_id = str(params.get("user", ""))
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": user_id.lower(),
            "deleted": False,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            **self.users[user_id],
        }
        return {"ok": True, "user": user}

    def _views_open(self, params: Params) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = _maybe_json(params.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        opened = {"id": f"V{len(self.views) + 1:08d}", "team_id": self.team_id, **view}
        self.views.append(opened)
        return {"ok": True, "view": opened}

    # ----------------------------------------------------------------- Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        self._all_ws.add(ws)
        with self._lock:
            self.socket_connections += 1
        assert self._connected is not None
        self._connected.set()
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.api_app_id},
            }
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(data, dict) or "envelope_id" not in data:
                    continue
                with self._lock:
                    self.acks.append(data)
                fut = self._pending_acks.pop(data["envelope_id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
        finally:
            self._all_ws.discard(ws)
            if self._ws is ws:
                self._ws = None
                self._connected.clear()
        return ws

    def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        timeout: float = 5,
        *,
        accepts_response_payload: bool = False,
    ) -> dict[str, Any]:
        """Push an envelope (``events_api``/``interactive``/``slash_commands``) and return the client's ack.

        Waits up to ``timeout`` for a client to be connected first, then for the ack; raises TimeoutError.
        """
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = 0
            envelope["retry_reason"] = ""
        try:
            return self._run(self._send_envelope(envelope, timeout), timeout + 2)
        except TimeoutError as exc:  # asyncio's and concurrent.futures' are the builtin since 3.11
            raise TimeoutError(f"no ack for {kind} envelope {envelope_id} within {timeout}s") from exc

    async def _send_envelope(self, envelope: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self._connected is not None and self._loop is not None
        deadline = self._loop.time() + timeout
        await asyncio.wait_for(self._connected.wait(), timeout)
        ws = self._ws
        if ws is None:
            raise TimeoutError("socket client went away")
        fut: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._pending_acks[envelope["envelope_id"]] = fut
        try:
            await ws.send_json(envelope)
            return await asyncio.wait_for(fut, max(0.0, deadline - self._loop.time()))
        finally:
            self._pending_acks.pop(envelope["envelope_id"], None)

    def wait_for_socket(self, timeout: float = 5) -> None:
        """Block until a Socket Mode client is connected (raises TimeoutError)."""

        async def wait() -> None:
            assert self._connected is not None
            await asyncio.wait_for(self._connected.wait(), timeout)

        self._run(wait(), timeout + 2)

    def disconnect_socket(self, reason: str | None = None) -> None:
        """Close the socket from Slack's side; with ``reason``, first send Slack's ``disconnect`` message."""

        async def close() -> None:
            ws = self._ws
            if ws is None:
                return
            if reason is not None:
                await ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})
            self._ws = None
            assert self._connected is not None
            self._connected.clear()
            await ws.close()

        self._run(close(), 5)


# --------------------------------------------------------------------- module helpers


def _error(error: str) -> web.Response:
    """Slack reports API errors with HTTP 200 and ``ok: false``."""
    return web.json_response({"ok": False, "error": error})


async def _read_params(request: web.Request) -> Params:
    """Query string plus JSON or form body: slack_sdk uses all three depending on the method."""
    params: Params = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            data = await request.json()
            if isinstance(data, dict):
                params.update(data)
        else:
            params.update(dict(await request.post()))
    return params


def _maybe_json(value: Any) -> Any:
    """Form-encoded calls carry ``blocks``/``view`` as JSON strings; store them as objects either way."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
