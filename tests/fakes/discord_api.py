"""A local stand-in for Discord: the REST API (v10) and the gateway websocket, for the real discord.py client.

End-to-end tests of the Discord adapter run the real ``discord.ext.commands.Bot`` against this fake instead
of discord.com. It answers like Discord does where discord.py is picky (complete payloads, since a KeyError
in discord.py's parsers kills the client; ``Content-Type`` exactly ``application/json``; 429 with ``Via``),
records what the bot asked for, and pushes gateway events as users would cause them. One aiohttp server
serves ``/api/v10/...`` and ``/gateway``; it runs in its own thread with its own event loop, so plain
synchronous tests can use it::

    with FakeDiscord(admins={"1001"}) as discord_fake:
        monkeypatch.setattr(discord.http.Route, "BASE", discord_fake.api_url)
        gateway = yarl.URL(discord_fake.gateway_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", gateway)
        with BotThread(bot, discord_fake.token):
            discord_fake.user_message("1001", "help!", mention_bot=True)
            discord_fake.wait_for(lambda: discord_fake.channel_messages(discord_fake.channel_id)[-1:] ...)

Like Discord, the fake echoes the bot's own messages, edits and reactions back over the gateway, filters
events by the intents the bot identified with (no ``message_content`` intent means empty ``content`` on
guild messages that don't mention the bot), only lets users invoke commands the bot registered, and
expires an interaction that gets no response within ``response_deadline`` seconds (Discord: 3 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from fakes.server_thread import ServerThread

T = TypeVar("T")
Payload = dict[str, Any]

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
HEARTBEAT_INTERVAL_MS = 41_250
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Gateway intents (https://discord.com/developers/docs/events/gateway#list-of-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15

# Which intent a dispatch needs, (in a guild, in a DM); events not listed are always sent.
EVENT_INTENTS: dict[str, tuple[int, int]] = {
    "GUILD_CREATE": (GUILDS, GUILDS),
    "CHANNEL_CREATE": (GUILDS, GUILDS),
    "THREAD_CREATE": (GUILDS, GUILDS),
    "GUILD_MEMBER_ADD": (GUILD_MEMBERS, GUILD_MEMBERS),
    "MESSAGE_CREATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_DELETE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
}

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1  # what Discord reports for administrators and the guild owner
EVERYONE_PERMISSIONS = (
    (1 << 6)  # ADD_REACTIONS
    | (1 << 10)  # VIEW_CHANNEL
    | (1 << 11)  # SEND_MESSAGES
    | (1 << 14)  # EMBED_LINKS
    | (1 << 15)  # ATTACH_FILES
    | (1 << 16)  # READ_MESSAGE_HISTORY
    | (1 << 31)  # USE_APPLICATION_COMMANDS
    | (1 << 35)  # CREATE_PUBLIC_THREADS
    | (1 << 38)  # SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | (1 << 18) | (1 << 34)  # + USE_EXTERNAL_EMOJIS, MANAGE_THREADS

# Message flags and the channel / interaction / callback types the fake deals in.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
GUILD_TEXT, DM, PUBLIC_THREAD, PRIVATE_THREAD = 0, 1, 11, 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)
APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT = 2, 3, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL = 4, 5, 6, 7, 9


class Call(NamedTuple):
    """One REST request the bot made; ``path`` is relative to ``/api/v10`` and percent-decoded."""

    method: str
    path: str
    json: Any
    query: dict[str, str]


@dataclass
class _User:
    id: str
    name: str
    role_ids: list[str]
    bot: bool
    joined_at: str


@dataclass
class _Interaction:
    """What the fake remembers to validate and record the bot's responses to an interaction."""

    id: str
    token: str
    type: int
    user_id: str
    channel_id: str
    created: float  # time.monotonic(), for the response deadline
    message_id: str | None = None  # the message a clicked component is on
    acknowledged: bool = False
    original_message_id: str | None = None
    message_ids: list[str] = field(default_factory=list)  # original response + follow-ups
    responses: list[Payload] = field(default_factory=list)


@dataclass
class _Session:
    """A gateway session: survives its socket, so a client can RESUME and get what it missed."""

    id: str
    intents: int
    ws: web.WebSocketResponse | None
    seq: int = 0
    sent: list[Payload] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _RateLimit:
    method: str
    pattern: str
    times: int
    retry_after: float


@dataclass
class _Upload:
    field_name: str
    filename: str
    content_type: str
    size: int


@dataclass
class _Request:
    params: dict[str, str]
    body: Any
    query: dict[str, str]
    uploads: list[_Upload]


@dataclass
class _Reply:
    """A handler's answer: ``body=None`` means 204, ``events`` are dispatched before the response is sent."""

    status: int = 200
    body: Any = None
    events: list[tuple[str, Payload]] = field(default_factory=list)


Handler = Callable[[_Request], _Reply]


class FakeDiscord(ServerThread):
    """Fake Discord (REST + gateway) in a background thread with one guild; use it as a context manager."""

    name = "fake Discord"

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        admins: Iterable[str] = (),
        role_names: Iterable[str] = (),
        bot_name: str = "SupportLoop",
        response_deadline: float = 3.0,
    ) -> None:
        self.token = token
        self.response_deadline = response_deadline
        super().__init__()
        self._lock = threading.Lock()  # guards everything below that tests read while the server writes
        self._counter = itertools.count()
        self.application_id = self._snowflake()
        self.bot_user_id = self.application_id  # Discord gives a bot user the application's id
        self.guild_id = self._snowflake()
        self.channel_id = self._snowflake()
        self.gateway_connections = 0  # IDENTIFYs and RESUMEs
        self.resumes = 0
        self._calls: list[Call] = []
        self._users: dict[str, _User] = {}
        self._roles: list[Payload] = []
        self._channels: dict[str, Payload] = {}
        self._dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self._messages: dict[str, Payload] = {}
        self._reactors: dict[str, dict[str, list[str]]] = {}  # message id -> emoji -> user ids
        self._interactions: dict[str, _Interaction] = {}
        self._interaction_by_token: dict[str, _Interaction] = {}
        self._commands: dict[str | None, list[Payload]] = {}  # guild id (None: global) -> commands
        self._rate_limits: list[_RateLimit] = []
        self._drops: list[_RateLimit] = []  # requests answered by closing the connection (retry_after unused)
        self._routes: list[tuple[str, str, Handler]] = self._route_table()
        # Owned by the server loop only.
        self._sessions: dict[str, _Session] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._live: asyncio.Event | None = None  # set while some client is identified and connected

        self._roles.append(self._role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, position=0))
        self._admin_role_id = self._add_role("Administrator", ADMINISTRATOR)
        self._bot_role_id = self._add_role(bot_name, BOT_PERMISSIONS, managed_by=self.bot_user_id)
        for name in role_names:
            self._add_role(name, 0)
        self._add_member(self.bot_user_id, bot_name, [self._bot_role_id], bot=True)
        self.owner_id = self._snowflake()
        self._add_member(self.owner_id, "server-owner", [self._admin_role_id])
        self._channels[self.channel_id] = self._text_channel(self.channel_id, "support", position=0)
        for user_id in admins:
            self.add_user(user_id, f"admin-{user_id}", administrator=True)

    # ----------------------------------------------------------------- lifecycle

    @property
    def api_url(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """As ``yarl.URL``, the value for ``DiscordWebSocket.DEFAULT_GATEWAY`` (discord.py adds the query)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._rest)

    async def on_start(self) -> None:
        self._live = asyncio.Event()

    async def on_stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # ----------------------------------------------------------------- guild setup

    def add_user(
        self, user_id: str, name: str, roles: Iterable[str] = (), *, administrator: bool = False
    ) -> None:
        """Add a guild member; ``roles`` are names from ``role_names``. Bots online get GUILD_MEMBER_ADD."""
        roles = list(roles)
        with self._lock:
            by_name = {role["name"]: role["id"] for role in self._roles}
            unknown = [role for role in roles if role not in by_name]
            if unknown:
                raise ValueError(f"unknown roles {unknown}; the guild has {sorted(by_name)}")
            role_ids = [by_name[role] for role in roles] + ([self._admin_role_id] if administrator else [])
            self._add_member(user_id, name, role_ids)
            event = {**self._member(user_id), "guild_id": self.guild_id}
        self._broadcast_if_connected("GUILD_MEMBER_ADD", event)

    def add_channel(self, name: str) -> str:
        """Add a text channel to the guild and return its id; a connected bot gets CHANNEL_CREATE."""
        with self._lock:
            channel_id = self._snowflake()
            channel = self._text_channel(channel_id, name, position=len(self._channels))
            self._channels[channel_id] = channel
        self._broadcast_if_connected("CHANNEL_CREATE", copy.deepcopy(channel))
        return channel_id

    def dm_channel_id(self, user_id: str) -> str:
        """The DM channel between the bot and ``user_id`` (created on first use, as Discord does)."""
        with self._lock:
            return self._dm_channel(user_id)["id"]

    # ----------------------------------------------------------------- inspecting what the bot did

    @property
    def calls(self) -> list[Call]:
        """Every REST request, in order (rate-limited, unauthorized and unknown ones included)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, path: str) -> list[Call]:
        """Calls matching ``method`` and ``path``, where a ``{placeholder}`` segment matches any value."""
        with self._lock:
            return [
                call for call in self._calls if call.method == method and _match(path, call.path) is not None
            ]

    @property
    def messages(self) -> dict[str, Payload]:
        """Snapshot of every message (users', the bot's, ephemeral ones) by id, as Discord would return it."""
        with self._lock:
            return copy.deepcopy(self._messages)

    def channel_messages(self, channel_id: str) -> list[Payload]:
        """What everyone sees in a channel or thread, oldest first: ephemeral messages are left out."""
        with self._lock:
            return [
                copy.deepcopy(message)
                for message in self._messages.values()
                if message["channel_id"] == channel_id and not message["flags"] & EPHEMERAL
            ]

    @property
    def threads(self) -> dict[str, Payload]:
        """Threads by id, as Discord returns them (``parent_id``, ``thread_metadata``, counters)."""
        with self._lock:
            return {
                cid: copy.deepcopy(channel)
                for cid, channel in self._channels.items()
                if channel["type"] in THREAD_TYPES
            }

    def interaction_responses(self, interaction_id: str) -> list[Payload]:
        """The bot's answers to an interaction in order, each ``{"kind", "type", "data", "message_id"}``.

        ``kind`` is ``callback`` (``type`` is the callback type: 4 message, 5 deferred, 6 deferred update,
        7 update, 9 modal), ``followup``, ``edit`` or ``delete`` (``message_id`` may be ``@original``).
        """
        with self._lock:
            return copy.deepcopy(self._interactions[interaction_id].responses)

    def registered_commands(self, guild_id: str | None = None) -> list[Payload]:
        """Application commands the bot synced globally (``None``) or to a guild, as Discord stored them."""
        with self._lock:
            return copy.deepcopy(self._commands.get(guild_id, []))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5, message: str = "") -> None:
        """Poll ``predicate`` (in the test thread) until it is truthy; the bot works concurrently."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                what = message or getattr(predicate, "__qualname__", repr(predicate))
                raise TimeoutError(f"not true within {timeout}s: {what}")
            time.sleep(0.01)

    def wait_for_ready(self, timeout: float = 5) -> None:
        """Block until a client has identified (got READY and GUILD_CREATE) and is still connected."""

        async def wait() -> None:
            assert self._live is not None
            await asyncio.wait_for(self._live.wait(), timeout)

        try:
            self._run(wait(), timeout + 2)
        except TimeoutError as exc:
            raise TimeoutError(f"no client identified on the fake gateway within {timeout}s") from exc

    def rate_limit(self, method: str, path: str, times: int = 1, retry_after: float = 0.2) -> None:
        """Answer the next ``times`` matching requests with 429 (``path`` as in :meth:`calls_to`)."""
        with self._lock:
            self._rate_limits.append(_RateLimit(method, path, times, retry_after))

    def drop_connection(self, method: str, path: str, times: int = 1) -> None:
        """Close the connection of the next ``times`` matching requests unanswered and unrecorded, as a
        server does to a pooled keep-alive connection it has already closed (``path`` as in
        :meth:`calls_to`)."""
        with self._lock:
            self._drops.append(_RateLimit(method, path, times, 0.0))

    # ----------------------------------------------------------------- pushing events as users

    def user_message(
        self,
        author_id: str,
        content: str,
        channel_id: str | None = None,
        *,
        mention_bot: bool = False,
        dm: bool = False,
        reply_to: str | None = None,
    ) -> Payload:
        """A user posts a message (MESSAGE_CREATE); returns it. ``channel_id`` may be a thread's id."""
        if mention_bot and f"<@{self.bot_user_id}>" not in content:
            content = f"<@{self.bot_user_id}> {content}"
        body: Payload = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": reply_to}
        with self._lock:
            self._require_user(author_id)
            if dm:
                channel_id = self._dm_channel(author_id)["id"]
            channel_id = channel_id or self.channel_id
            if channel_id not in self._channels:
                raise ValueError(f"unknown channel {channel_id}")
            message = self._new_message(channel_id, author_id, body)
            event = copy.deepcopy(message)
        self._push("MESSAGE_CREATE", event)
        return event

    def react(self, user_id: str, channel_id: str, message_id: str, emoji: str = "👍") -> None:
        """A user adds a (unicode) reaction: MESSAGE_REACTION_ADD."""
        with self._lock:
            self._require_user(user_id)
            event = self._reaction_event(user_id, channel_id, message_id, emoji, add=True)
        self._push("MESSAGE_REACTION_ADD", event)

    def unreact(self, user_id: str, channel_id: str, message_id: str, emoji: str = "👍") -> None:
        """A user removes their reaction: MESSAGE_REACTION_REMOVE."""
        with self._lock:
            self._require_user(user_id)
            event = self._reaction_event(user_id, channel_id, message_id, emoji, add=False)
        self._push("MESSAGE_REACTION_REMOVE", event)

    def slash_command(
        self,
        user_id: str,
        name: str,
        subcommand: str | None = None,
        options: dict[str, Any] | None = None,
        channel_id: str | None = None,
    ) -> str:
        """A user runs ``/name subcommand option:value``; returns the interaction id.

        Like Discord's client, this only offers what the bot registered: the command must have been synced
        (to the guild or globally), ``subcommand`` (``"group sub"`` for groups) and option names must exist
        and required options must be given. Supported option types: string, integer, boolean, number, user
        (a user id), role (a role id).
        """
        with self._lock:
            self._require_user(user_id)
            command = self._find_command(name)
            data: Payload = {"id": command["id"], "name": name, "type": command["type"]}
            if command.get("guild_id"):
                data["guild_id"] = command["guild_id"]
            target, schema = data, command.get("options", [])
            for part in (subcommand or "").split():
                sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
                if sub is None:
                    raise ValueError(f"/{name} has no subcommand {part!r}")
                node: Payload = {"type": sub["type"], "name": part}
                target.setdefault("options", []).append(node)
                target, schema = node, sub.get("options", [])
            if any(o["type"] in (1, 2) for o in schema):
                raise ValueError(f"/{name} needs a (deeper) subcommand than {subcommand!r}")
            target["options"], resolved = self._option_values(schema, options or {})
            if resolved:
                data["resolved"] = resolved
            event, interaction = self._new_interaction(
                APPLICATION_COMMAND, user_id, channel_id or self.channel_id, data
            )
        self._push("INTERACTION_CREATE", event)
        return interaction.id

    def rewrite_button(self, message_id: str, custom_id: str, new_custom_id: str) -> None:
        """Give a button on a stored message another custom id, as a message posted by another
        deployment (another database) or crafted by hand can carry ids this bot never issued."""
        with self._lock:
            button = _find_component(self._messages[message_id].get("components", []), custom_id)
            if button is None:
                raise ValueError(f"message {message_id} has no button {custom_id!r}")
            button["custom_id"] = new_custom_id

    def click_button(self, user_id: str, message: Payload | str, custom_id: str) -> str:
        """A user clicks a button on a message (dict or id); returns the interaction id.

        Raises ValueError if the message has no enabled button with that ``custom_id``, as a user could not
        click it either.
        """
        message_id = message if isinstance(message, str) else message["id"]
        with self._lock:
            self._require_user(user_id)
            stored = self._messages.get(message_id)
            if stored is None:
                raise ValueError(f"unknown message {message_id}")
            button = _find_component(stored.get("components", []), custom_id)
            if button is None or button.get("type") != 2 or button.get("disabled"):
                raise ValueError(f"message {message_id} has no enabled button {custom_id!r}")
            data = {"custom_id": custom_id, "component_type": 2}
            event, interaction = self._new_interaction(
                MESSAGE_COMPONENT, user_id, stored["channel_id"], data, message=stored
            )
        self._push("INTERACTION_CREATE", event)
        return interaction.id

    def submit_modal(self, user_id: str, custom_id: str, fields: dict[str, str]) -> str:
        """A user submits a modal the bot showed them; ``fields`` maps input custom ids to values.

        The submission mirrors the modal's layout (action rows or labels). Raises ValueError if the bot never
        showed this user that modal, a field is unknown, or a required one is missing.
        """
        with self._lock:
            shown = self._shown_modal(user_id, custom_id)
            if shown is None:
                raise ValueError(f"the bot never showed user {user_id} a modal {custom_id!r}")
            opener, modal = shown
            remaining = dict(fields)
            components = [_submitted(c, remaining) for c in modal.get("components", [])]
            if remaining:
                raise ValueError(f"modal {custom_id!r} has no inputs {sorted(remaining)}")
            data = {"custom_id": custom_id, "components": components}
            message = self._messages.get(opener.message_id or "")
            event, interaction = self._new_interaction(
                MODAL_SUBMIT, user_id, opener.channel_id, data, message=message
            )
        self._push("INTERACTION_CREATE", event)
        return interaction.id

    def send_raw(self, frame: Payload) -> None:
        """Send a frame as-is but for ``op`` (default 0) and ``s`` (numbered like any dispatch), to all bots.

        For unknown or malformed events. Note discord.py ignores unknown event names, but a KeyError in one of
        its parsers propagates out of ``Client.connect()`` and ends the bot.
        """
        self._push_frame(frame)

    def disconnect(self, *, resumable: bool = True) -> None:
        """Close every gateway socket from Discord's side (close code 4000, or 4009 = session gone).

        discord.py reconnects by itself: it RESUMEs (and the fake replays what it missed), or, when the
        session is gone, gets INVALID_SESSION and IDENTIFYs again.
        """

        async def close() -> None:
            for session in list(self._sessions.values()):
                ws, session.ws = session.ws, None
                if not resumable:
                    del self._sessions[session.id]
                if ws is not None:
                    await ws.close(code=4000 if resumable else 4009, message=b"fake disconnect")
            self._update_live()

        self._run(close(), 5)

    # ----------------------------------------------------------------- REST

    def _route_table(self) -> list[tuple[str, str, Handler]]:
        """Routes in match order (literal segments such as ``@me`` before placeholders)."""
        channel = "/channels/{channel_id}"
        message = channel + "/messages/{message_id}"
        own_reaction = message + "/reactions/{emoji}/@me"
        webhook = "/webhooks/{application_id}/{token}"
        return [
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{application_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/commands", self._put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("GET", channel, self._get_channel),
            ("GET", channel + "/messages", self._get_history),
            ("POST", channel + "/messages", self._post_message),
            ("POST", channel + "/typing", self._typing),
            ("POST", channel + "/threads", self._post_thread),
            ("GET", message, self._get_message),
            ("PATCH", message, self._edit_message),
            ("DELETE", message, self._delete_message),
            ("POST", message + "/threads", self._post_thread),
            ("PUT", own_reaction, self._add_own_reaction),
            ("DELETE", own_reaction, self._remove_own_reaction),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback),
            ("POST", webhook, self._followup),
            ("GET", webhook + "/messages/{message_id}", self._get_webhook_message),
            ("PATCH", webhook + "/messages/{message_id}", self._edit_webhook_message),
            ("DELETE", webhook + "/messages/{message_id}", self._delete_webhook_message),
        ]

    async def _rest(self, request: web.Request) -> web.Response:
        raw_path = request.raw_path.split("?", 1)[0].removeprefix(API_PREFIX)
        path = "/" + "/".join(unquote(segment) for segment in raw_path.strip("/").split("/"))
        try:
            body, uploads = await _read_body(request)
        except ValueError:
            return _json_response(400, {"message": "The request body contains invalid JSON.", "code": 50109})
        with self._lock:
            drop = _take(self._drops, request.method, path)
        if drop is not None and request.transport is not None:
            request.transport.close()  # the client reads the end of the connection: ServerDisconnectedError
            return web.Response(status=204)
        with self._lock:
            self._calls.append(Call(request.method, path, body, dict(request.query)))
            limit = _take(self._rate_limits, request.method, path)
        route = next(
            (
                (template, handler)
                for method, template, handler in self._routes
                if method == request.method and _match(template, path) is not None
            ),
            None,
        )
        if route is None:
            return _json_response(404, {"message": "404: Not Found", "code": 0})
        template, handler = route
        params = _match(template, path) or {}
        bucket = f"{request.method} {template}"
        if limit is not None:
            return _rate_limited(limit.retry_after, bucket)
        # Interaction callbacks and webhooks authenticate by the token in the URL, the rest by the bot token.
        needs_auth = not template.startswith(("/interactions/", "/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json_response(401, {"message": "401: Unauthorized", "code": 0})
        try:
            with self._lock:
                reply = handler(_Request(params, body, dict(request.query), uploads))
        except Exception as exc:  # a 500 would make discord.py retry for ~25 s; fail fast and say why
            message = f"fake Discord could not handle {request.method} {path}: {exc!r}"
            return _json_response(400, {"message": message, "code": 50035})
        for event, payload in reply.events:
            await self._dispatch(event, payload)
        if reply.body is None:
            return web.Response(status=204, headers=_bucket_headers(bucket))
        return _json_response(reply.status, reply.body, _bucket_headers(bucket))

    def _get_me(self, request: _Request) -> _Reply:
        me = self._user(self.bot_user_id)
        return _Reply(body={**me, "verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"})

    def _get_user(self, request: _Request) -> _Reply:
        if request.params["user_id"] not in self._users:
            return _fail(404, "Unknown User", 10013)
        return _Reply(body=self._user(request.params["user_id"]))

    def _get_application(self, request: _Request) -> _Reply:
        return _Reply(
            body={
                "id": self.application_id,
                "name": self._users[self.bot_user_id].name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": self._user(self.owner_id),
                "team": None,
                "bot": self._user(self.bot_user_id),
                "interactions_endpoint_url": None,  # if set, interactions would not come over the gateway
                "redirect_uris": [],
                "approximate_guild_count": 1,
            }
        )

    def _get_gateway_bot(self, request: _Request) -> _Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _Reply(body={"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _open_dm(self, request: _Request) -> _Reply:
        recipient = str((request.body or {}).get("recipient_id", ""))
        if recipient not in self._users:
            return _fail(404, "Unknown User", 10013)
        return _Reply(body=copy.deepcopy(self._dm_channel(recipient)))

    def _get_commands(self, request: _Request) -> _Reply:
        error = self._check_command_scope(request.params)
        return error or _Reply(body=copy.deepcopy(self._commands.get(request.params.get("guild_id"), [])))

    def _put_commands(self, request: _Request) -> _Reply:
        """Bulk overwrite; as on Discord, a command keeps its id if one with its name and type existed."""
        error = self._check_command_scope(request.params)
        if error is not None:
            return error
        guild_id = request.params.get("guild_id")
        existing = {(c["name"], c["type"]): c["id"] for c in self._commands.get(guild_id, [])}
        stored = []
        for command in request.body or []:
            kind = command.get("type", 1)
            entry = {
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                **command,
                "id": existing.get((command["name"], kind)) or self._snowflake(),
                "application_id": self.application_id,
                "version": self._snowflake(),
                "type": kind,
            }
            if guild_id is not None:
                entry["guild_id"] = guild_id
            stored.append(entry)
        self._commands[guild_id] = stored
        return _Reply(body=copy.deepcopy(stored))

    def _check_command_scope(self, params: dict[str, str]) -> _Reply | None:
        if (
            params["application_id"] != self.application_id
            or params.get("guild_id", self.guild_id) != self.guild_id
        ):
            return _fail(403, "Missing Access", 50001)
        return None

    def _get_member(self, request: _Request) -> _Reply:
        if request.params["guild_id"] != self.guild_id:
            return _fail(404, "Unknown Guild", 10004)
        if request.params["user_id"] not in self._users:
            return _fail(404, "Unknown Member", 10007)
        return _Reply(body=self._member(request.params["user_id"]))

    def _get_channel(self, request: _Request) -> _Reply:
        channel = self._channels.get(request.params["channel_id"])
        return (
            _fail(404, "Unknown Channel", 10003) if channel is None else _Reply(body=copy.deepcopy(channel))
        )

    def _get_history(self, request: _Request) -> _Reply:
        """Newest first, like Discord; ``before``/``after`` are message ids, ``limit`` at most 100."""
        channel_id = request.params["channel_id"]
        if channel_id not in self._channels:
            return _fail(404, "Unknown Channel", 10003)
        limit = min(int(request.query.get("limit", 50)), 100)
        visible = [
            m for m in self._messages.values() if m["channel_id"] == channel_id and not m["flags"] & EPHEMERAL
        ]
        if "after" in request.query:
            picked = [m for m in visible if int(m["id"]) > int(request.query["after"])][:limit]
        else:
            before = int(request.query.get("before", 1 << 64))
            picked = [m for m in visible if int(m["id"]) < before][-limit:]
        return _Reply(body=copy.deepcopy(picked[::-1]))

    def _post_message(self, request: _Request) -> _Reply:
        channel_id = request.params["channel_id"]
        if channel_id not in self._channels:
            return _fail(404, "Unknown Channel", 10003)
        body = request.body or {}
        error = _message_error(body, request.uploads)
        if error is not None:
            return error
        message = self._new_message(channel_id, self.bot_user_id, body, request.uploads)
        return _Reply(body=copy.deepcopy(message), events=[("MESSAGE_CREATE", copy.deepcopy(message))])

    def _typing(self, request: _Request) -> _Reply:
        if request.params["channel_id"] not in self._channels:
            return _fail(404, "Unknown Channel", 10003)
        return _Reply(status=204)

    def _get_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request.params)
        return (
            _fail(404, "Unknown Message", 10008) if message is None else _Reply(body=copy.deepcopy(message))
        )

    def _edit_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request.params)
        if message is None:
            return _fail(404, "Unknown Message", 10008)
        if message["author"]["id"] != self.bot_user_id:
            return _fail(403, "Cannot edit a message authored by another user", 50005)
        return self._edited(message, request.body or {}, request.uploads)

    def _delete_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request.params)
        if message is None:
            return _fail(404, "Unknown Message", 10008)
        if message["author"]["id"] != self.bot_user_id:
            return _fail(403, "Missing Permissions", 50013)  # the bot's role has no MANAGE_MESSAGES
        return self._deleted(message)

    def _post_thread(self, request: _Request) -> _Reply:
        """Start a thread, from a message (the thread gets the message's id, as on Discord) or without one."""
        parent = self._channels.get(request.params["channel_id"])
        if parent is None:
            return _fail(404, "Unknown Channel", 10003)
        if parent["type"] != GUILD_TEXT:
            return _fail(400, "Cannot execute action on this channel type", 50024)
        body = request.body or {}
        if not body.get("name"):
            return _fail(400, "Invalid Form Body", 50035, _field_error("name", "BASE_TYPE_REQUIRED"))
        starter = None
        if "message_id" in request.params:
            starter = self._channel_message(request.params)
            if starter is None:
                return _fail(404, "Unknown Message", 10008)
            if starter["id"] in self._channels:
                return _fail(400, "A thread has already been created for this message", 160004)
        thread_id = starter["id"] if starter else self._snowflake()
        now = _now()
        thread: Payload = {
            "id": thread_id,
            "type": PUBLIC_THREAD if starter else int(body.get("type") or PRIVATE_THREAD),
            "guild_id": self.guild_id,
            "parent_id": parent["id"],
            "owner_id": self.bot_user_id,
            "name": body["name"],
            "last_message_id": None,
            "message_count": 0,
            "total_message_sent": 0,
            "member_count": 1,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 4320,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
                "invitable": body.get("invitable", True),
            },
            "member": {"id": thread_id, "user_id": self.bot_user_id, "join_timestamp": now, "flags": 0},
        }
        self._channels[thread_id] = thread
        if starter is not None:
            starter["thread"] = copy.deepcopy(thread)
        return _Reply(
            status=201,
            body=copy.deepcopy(thread),
            events=[("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})],
        )

    def _add_own_reaction(self, request: _Request) -> _Reply:
        return self._own_reaction(request, add=True)

    def _remove_own_reaction(self, request: _Request) -> _Reply:
        return self._own_reaction(request, add=False)

    def _own_reaction(self, request: _Request, *, add: bool) -> _Reply:
        if self._channel_message(request.params) is None:
            return _fail(404, "Unknown Message", 10008)
        p = request.params
        event = self._reaction_event(self.bot_user_id, p["channel_id"], p["message_id"], p["emoji"], add=add)
        return _Reply(
            status=204, events=[("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", event)]
        )

    # ----------------------------------------------------------------- interaction responses

    def _interaction_callback(self, request: _Request) -> _Reply:
        interaction = self._interactions.get(request.params["interaction_id"])
        if interaction is None or interaction.token != request.params["token"]:
            return _fail(404, "Unknown interaction", 10062)
        if interaction.acknowledged:
            return _fail(400, "Interaction has already been acknowledged.", 40060)
        if time.monotonic() - interaction.created > self.response_deadline:
            return _fail(404, "Unknown interaction", 10062)  # Discord's answer to a response after 3 s
        body = request.body or {}
        kind, data = body.get("type"), body.get("data") or {}
        target = self._messages.get(interaction.message_id or "")
        if kind == CHANNEL_MESSAGE or (kind == UPDATE_MESSAGE and target is not None):
            error = _message_error({**(target or {}), **data}, request.uploads)
            if error is not None:
                return error
        interaction.acknowledged = True
        interaction.responses.append({"kind": "callback", "type": kind, "data": data, "message_id": None})
        events: list[tuple[str, Payload]] = []
        resource: Payload | None = None
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0) & EPHEMERAL
            if kind == DEFERRED_CHANNEL_MESSAGE:
                data, flags = {}, flags | LOADING
            message = self._new_message(
                interaction.channel_id,
                self.bot_user_id,
                {**data, "flags": flags},
                request.uploads,
                interaction,
            )
            interaction.original_message_id = message["id"]
            interaction.message_ids.append(message["id"])
            resource = {"type": kind, "message": copy.deepcopy(message)}
            if not flags & EPHEMERAL:
                events.append(("MESSAGE_CREATE", copy.deepcopy(message)))
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and target is not None:
            interaction.original_message_id = target["id"]
            if kind == UPDATE_MESSAGE:
                reply = self._edited(target, data, request.uploads)
                events = reply.events
                resource = {"type": kind, "message": reply.body}
        original = self._messages.get(interaction.original_message_id or "")
        answer: Payload = {
            "interaction": {
                "id": interaction.id,
                "type": interaction.type,
                "response_message_id": interaction.original_message_id,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(original and original["flags"] & EPHEMERAL),
            }
        }
        if resource is not None:
            answer["resource"] = resource
        with_response = request.query.get("with_response", "").lower() in ("1", "true")
        return _Reply(body=answer if with_response else None, events=events)

    def _webhook_interaction(self, params: dict[str, str]) -> _Interaction | None:
        """The interaction behind an interaction webhook (``/webhooks/{application_id}/{token}``)."""
        if params["application_id"] != self.application_id:
            return None
        return self._interaction_by_token.get(params["token"])

    def _webhook_message(self, params: dict[str, str]) -> tuple[_Interaction, Payload] | _Reply:
        interaction = self._webhook_interaction(params)
        if interaction is None:
            return _fail(404, "Unknown Webhook", 10015)
        wanted = params["message_id"]
        message_id = interaction.original_message_id if wanted == "@original" else wanted
        ours = message_id in interaction.message_ids or message_id == interaction.original_message_id
        if message_id is None or not ours or message_id not in self._messages:
            return _fail(404, "Unknown Message", 10008)
        return interaction, self._messages[message_id]

    def _followup(self, request: _Request) -> _Reply:
        """A follow-up message; after a deferred (``thinking``) response the first one fills that in."""
        interaction = self._webhook_interaction(request.params)
        if interaction is None or not interaction.acknowledged:
            return _fail(404, "Unknown Webhook", 10015)
        body = request.body or {}
        error = _message_error(body, request.uploads)
        if error is not None:
            return error
        original = self._messages.get(interaction.original_message_id or "")
        if original is not None and original["flags"] & LOADING:
            kept_flags = {key: value for key, value in body.items() if key != "flags"}
            reply = self._edited(original, kept_flags, request.uploads)
            message_id = original["id"]
        else:
            flags = int(body.get("flags") or 0)
            message = self._new_message(
                interaction.channel_id,
                self.bot_user_id,
                {**body, "flags": flags},
                request.uploads,
                interaction,
            )
            interaction.message_ids.append(message["id"])
            message_id = message["id"]
            events = [] if flags & EPHEMERAL else [("MESSAGE_CREATE", copy.deepcopy(message))]
            reply = _Reply(body=copy.deepcopy(message), events=events)
        interaction.responses.append(
            {"kind": "followup", "type": None, "data": body, "message_id": message_id}
        )
        if request.query.get("wait", "").lower() not in ("1", "true"):
            reply.body = None
        return reply

    def _get_webhook_message(self, request: _Request) -> _Reply:
        found = self._webhook_message(request.params)
        return found if isinstance(found, _Reply) else _Reply(body=copy.deepcopy(found[1]))

    def _edit_webhook_message(self, request: _Request) -> _Reply:
        found = self._webhook_message(request.params)
        if isinstance(found, _Reply):
            return found
        interaction, message = found
        data = request.body or {}
        reply = self._edited(message, data, request.uploads)
        if reply.status < 400:
            edit = {"kind": "edit", "type": None, "data": data, "message_id": request.params["message_id"]}
            interaction.responses.append(edit)
        return reply

    def _delete_webhook_message(self, request: _Request) -> _Reply:
        found = self._webhook_message(request.params)
        if isinstance(found, _Reply):
            return found
        interaction, message = found
        message_id = request.params["message_id"]
        interaction.responses.append({"kind": "delete", "type": None, "data": None, "message_id": message_id})
        return self._deleted(message)

    # ----------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """HELLO, then heartbeats are acked, IDENTIFY/RESUME start or continue a session, op 8 gets members.

        Frames are plain JSON text even though discord.py asks for ``compress=zlib-stream``: it accepts both.
        """
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        session: _Session | None = None
        await ws.send_json(
            {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None}
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, data = frame.get("op"), frame.get("d")
                if op == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    session = await self._identify(ws, data)
                elif op == 6:
                    session = await self._resume(ws, data)
                elif op == 8 and session is not None:
                    await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", self._members_chunk(data))
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                if ws.close_code in (1000, 1001):  # a client's clean close ends its session
                    self._sessions.pop(session.id, None)
            self._update_live()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: Payload) -> _Session | None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        session = _Session(id=uuid.uuid4().hex, intents=int(data.get("intents", 0)), ws=ws)
        self._sessions[session.id] = session
        with self._lock:
            self.gateway_connections += 1
            ready = {
                "v": 10,
                "user": {**self._user(self.bot_user_id), "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": self.guild_id, "unavailable": True}],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": self.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
            }
            if "shard" in data:
                ready["shard"] = data["shard"]
            guild = self._visible_to(session.intents, "GUILD_CREATE", self._guild_create(session.intents))
        await self._send_dispatch(session, "READY", ready)
        if guild is not None:
            await self._send_dispatch(session, "GUILD_CREATE", guild)
        self._update_live()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: Payload) -> _Session | None:
        session = self._sessions.get(data.get("session_id") or "")
        if session is None or data.get("token") != self.token:
            await ws.send_json({"op": 9, "d": False, "s": None, "t": None})
            return None
        with self._lock:
            self.gateway_connections += 1
            self.resumes += 1
        async with session.lock:
            old, session.ws = session.ws, ws
            for frame in session.sent:
                if frame["s"] > (data.get("seq") or 0):
                    await ws.send_str(json.dumps(frame))
        if old is not None:
            await old.close(code=4000)
        await self._send_dispatch(session, "RESUMED", {})
        self._update_live()
        return session

    def _update_live(self) -> None:
        assert self._live is not None
        if any(s.ws is not None and not s.ws.closed for s in self._sessions.values()):
            self._live.set()
        else:
            self._live.clear()

    async def _dispatch(self, event: str, payload: Payload) -> None:
        """Send an event to every session, connected or awaiting a RESUME (which replays it)."""
        for session in list(self._sessions.values()):
            visible = self._visible_to(session.intents, event, payload)
            if visible is not None:
                await self._send_dispatch(session, event, visible)

    async def _send_dispatch(self, session: _Session, event: str, payload: Payload) -> None:
        await self._send_frame(session, {"op": 0, "t": event, "d": payload})

    async def _send_frame(self, session: _Session, frame: Payload) -> None:
        """Number dispatches (op 0) per session and keep them for a RESUME; send if connected."""
        async with session.lock:
            if frame.get("op") == 0:
                session.seq += 1
                frame = {**frame, "s": session.seq}
                session.sent.append(frame)
            if session.ws is not None and not session.ws.closed:
                with contextlib.suppress(ConnectionResetError):  # closing; a RESUME replays the frame
                    await session.ws.send_str(json.dumps(frame))

    def _visible_to(self, intents: int, event: str, payload: Payload) -> Payload | None:
        """What a session with these intents gets: nothing, or (without MESSAGE_CONTENT) emptied messages."""
        needed = EVENT_INTENTS.get(event)
        if needed and not intents & needed[0 if "guild_id" in payload else 1]:
            return None
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and "guild_id" in payload
            and not intents & MESSAGE_CONTENT
            and payload["author"]["id"] != self.bot_user_id
            and all(m["id"] != self.bot_user_id for m in payload.get("mentions", []))
        ):
            return {**payload, "content": "", "embeds": [], "attachments": [], "components": []}
        return payload

    def _push(self, event: str, payload: Payload, timeout: float = 5) -> None:
        """Dispatch a user-caused event once a client is connected (raises TimeoutError otherwise)."""

        async def push() -> None:
            await self._wait_live(timeout)
            await self._dispatch(event, payload)

        self._run(push(), timeout + 2)

    def _push_frame(self, frame: Payload, timeout: float = 5) -> None:
        async def push() -> None:
            await self._wait_live(timeout)
            for session in list(self._sessions.values()):
                await self._send_frame(session, {"op": 0, **frame})

        self._run(push(), timeout + 2)

    async def _wait_live(self, timeout: float) -> None:
        assert self._live is not None
        try:
            await asyncio.wait_for(self._live.wait(), timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"no bot connected to the fake gateway within {timeout}s") from exc

    def _broadcast_if_connected(self, event: str, payload: Payload) -> None:
        """State changes made by the test reach connected bots; later ones see them in GUILD_CREATE."""
        if self._loop is not None:
            self._run(self._dispatch(event, payload), 5)

    def _members_chunk(self, request: Payload) -> Payload:
        """GUILD_MEMBERS_CHUNK for op 8 (``guild.chunk()``, member queries), all in one chunk."""
        query = str(request.get("query") or "").lower()
        user_ids = {str(u) for u in request.get("user_ids") or []}
        limit = int(request.get("limit") or 0)
        with self._lock:
            members = [
                self._member(uid)
                for uid, user in self._users.items()
                if (not user_ids or uid in user_ids) and user.name.lower().startswith(query)
            ]
            not_found = sorted(user_ids - set(self._users))
        return {
            "guild_id": self.guild_id,
            "members": members[:limit] if limit else members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": not_found,
            "nonce": request.get("nonce"),
        }

    # ----------------------------------------------------------------- state and payloads (hold _lock)

    def _snowflake(self) -> str:
        """Increasing ids that encode the current time, so discord.py's ``created_at`` is plausible."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((millis << 22) | (next(self._counter) % (1 << 22)))

    def _add_role(self, name: str, permissions: int, *, managed_by: str | None = None) -> str:
        role_id = self._snowflake()
        role = self._role(role_id, name, permissions, position=len(self._roles))
        if managed_by is not None:
            role.update(managed=True, tags={"bot_id": managed_by})
        self._roles.append(role)
        return role_id

    @staticmethod
    def _role(role_id: str, name: str, permissions: int, *, position: int) -> Payload:
        return {
            "id": role_id,
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _add_member(self, user_id: str, name: str, role_ids: list[str], *, bot: bool = False) -> None:
        self._users[str(user_id)] = _User(str(user_id), name, role_ids, bot, _now())

    def _require_user(self, user_id: str) -> None:
        if user_id not in self._users:
            raise ValueError(f"unknown user {user_id}: add_user() first")

    def _text_channel(self, channel_id: str, name: str, *, position: int) -> Payload:
        return {
            "id": channel_id,
            "type": GUILD_TEXT,
            "guild_id": self.guild_id,
            "name": name,
            "position": position,
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "permission_overwrites": [],
            "flags": 0,
            "default_auto_archive_duration": 4320,
        }

    def _dm_channel(self, user_id: str) -> Payload:
        if user_id not in self._dm_channels:
            channel_id = self._snowflake()
            self._dm_channels[user_id] = channel_id
            self._channels[channel_id] = {
                "id": channel_id,
                "type": DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self._user(user_id)],
            }
        return self._channels[self._dm_channels[user_id]]

    def _user(self, user_id: str) -> Payload:
        user = self._users[user_id]
        return {
            "id": user.id,
            "username": user.name,
            "discriminator": "0",
            "global_name": None if user.bot else user.name,
            "avatar": None,
            "public_flags": 0,
            "bot": user.bot,
        }

    def _member(self, user_id: str, *, with_user: bool = True) -> Payload:
        """A guild member object; messages carry it without ``user``, interactions add ``permissions``."""
        user = self._users[user_id]
        member: Payload = {
            "roles": list(user.role_ids),
            "joined_at": user.joined_at,
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = self._user(user_id)
        return member

    def _permissions(self, user_id: str) -> int:
        """Guild-level permissions from roles; administrators and the owner get everything, as on Discord."""
        allowed = EVERYONE_PERMISSIONS
        role_ids = set(self._users[user_id].role_ids)
        for role in self._roles:
            if role["id"] in role_ids:
                allowed |= int(role["permissions"])
        return ALL_PERMISSIONS if allowed & ADMINISTRATOR or user_id == self.owner_id else allowed

    def _guild_create(self, intents: int) -> Payload:
        """GUILD_CREATE; without GUILD_PRESENCES Discord lists only the bot as member (the rest: op 8)."""
        member_ids = list(self._users) if intents & GUILD_PRESENCES else [self.bot_user_id]
        channels = [c for c in self._channels.values() if c["type"] == GUILD_TEXT]
        threads = [
            c
            for c in self._channels.values()
            if c["type"] in THREAD_TYPES and not c["thread_metadata"]["archived"]
        ]
        return copy.deepcopy(
            {
                "id": self.guild_id,
                "name": "SupportLoop Test",
                "icon": None,
                "splash": None,
                "discovery_splash": None,
                "banner": None,
                "description": None,
                "owner_id": self.owner_id,
                "afk_channel_id": None,
                "afk_timeout": 300,
                "verification_level": 0,
                "default_message_notifications": 0,
                "explicit_content_filter": 0,
                "mfa_level": 0,
                "nsfw_level": 0,
                "premium_tier": 0,
                "premium_subscription_count": 0,
                "premium_progress_bar_enabled": False,
                "preferred_locale": "en-US",
                "system_channel_id": self.channel_id,
                "system_channel_flags": 0,
                "rules_channel_id": None,
                "public_updates_channel_id": None,
                "safety_alerts_channel_id": None,
                "vanity_url_code": None,
                "features": [],
                "roles": self._roles,
                "emojis": [],
                "stickers": [],
                "application_id": None,
                "joined_at": self._users[self.bot_user_id].joined_at,
                "large": False,
                "unavailable": False,
                "member_count": len(self._users),
                "members": [self._member(uid) for uid in member_ids],
                "channels": channels,
                "threads": threads,
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )

    def _channel_message(self, params: dict[str, str]) -> Payload | None:
        message = self._messages.get(params["message_id"])
        return message if message is not None and message["channel_id"] == params["channel_id"] else None

    def _new_message(
        self,
        channel_id: str,
        author_id: str,
        body: Payload,
        uploads: Sequence[_Upload] = (),
        interaction: _Interaction | None = None,
    ) -> Payload:
        """Store and return a complete message object, as Discord returns it and dispatches it."""
        channel = self._channels[channel_id]
        in_guild = channel["type"] != DM
        message_id = self._snowflake()
        content = body.get("content") or ""
        message: Payload = {
            "id": message_id,
            "channel_id": channel_id,
            "author": self._user(author_id),
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": _role_mentions(content),
            "attachments": self._attachments(channel_id, body, uploads, []),
            "embeds": [{"type": "rich", **embed} for embed in body.get("embeds") or []],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
        }
        if in_guild:
            message["guild_id"] = self.guild_id
            if interaction is None:
                message["member"] = self._member(author_id, with_user=False)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        replied_to = None
        reference = body.get("message_reference")
        if reference:
            replied_to = self._messages.get(str(reference.get("message_id")))
            message["type"] = 19  # REPLY
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reference.get("message_id")),
                "channel_id": replied_to["channel_id"] if replied_to else channel_id,
                **({"guild_id": self.guild_id} if in_guild else {}),
            }
            message["referenced_message"] = (
                {k: v for k, v in copy.deepcopy(replied_to).items() if k != "referenced_message"}
                if replied_to
                else None
            )
        message["mentions"] = self._mentions(content, in_guild, _reply_ping(body, author_id, replied_to))
        if interaction is not None:
            message["webhook_id"] = self.application_id
            message["application_id"] = self.application_id
            message["type"] = 20 if interaction.type == APPLICATION_COMMAND else 0
            message["interaction_metadata"] = {
                "id": interaction.id,
                "type": interaction.type,
                "user": self._user(interaction.user_id),
                "authorizing_integration_owners": {"0": self.guild_id}
                if in_guild
                else {"1": interaction.user_id},
            }
        if channel["type"] in THREAD_TYPES:
            message["position"] = channel["total_message_sent"]
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        channel["last_message_id"] = message_id
        self._messages[message_id] = message
        return message

    def _mentions(self, content: str, in_guild: bool, extra: list[str]) -> list[Payload]:
        """Users mentioned as ``<@id>`` (plus a replied-to author); in guilds each carries its ``member``."""
        ids = list(dict.fromkeys(re.findall(r"<@!?(\d+)>", content) + extra))
        mentions = []
        for user_id in ids:
            if user_id in self._users:
                user = self._user(user_id)
                if in_guild:
                    user["member"] = self._member(user_id, with_user=False)
                mentions.append(user)
        return mentions

    def _attachments(
        self, channel_id: str, body: Payload, uploads: Sequence[_Upload], existing: list[Payload]
    ) -> list[Payload]:
        """Kept attachments (listed by id in ``attachments``) plus uploaded ``files[n]``, with CDN URLs."""
        listed = body.get("attachments") or []
        kept_ids = {str(a.get("id")) for a in listed}
        kept = [a for a in existing if a["id"] in kept_ids] if "attachments" in body else list(existing)
        for upload in uploads:
            attachment_id = self._snowflake()
            url = f"https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{upload.filename}"
            kept.append(
                {
                    "id": attachment_id,
                    "filename": upload.filename,
                    "size": upload.size,
                    "url": url,
                    "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                    "content_type": upload.content_type,
                }
            )
        return kept

    def _edited(self, message: Payload, body: Payload, uploads: Sequence[_Upload]) -> _Reply:
        """Apply an edit; a deferred (loading) message becomes the real answer. Echoed unless ephemeral."""
        error = _message_error({**message, **body}, uploads)
        if error is not None:
            return error
        if "content" in body:
            message["content"] = body["content"] or ""
            replied = message.get("referenced_message")
            pinged = [m["id"] for m in message["mentions"] if replied and m["id"] == replied["author"]["id"]]
            message["mentions"] = self._mentions(message["content"], "guild_id" in message, pinged)
        if "embeds" in body:
            message["embeds"] = [{"type": "rich", **embed} for embed in body["embeds"] or []]
        if "components" in body:
            message["components"] = body["components"] or []
        if "flags" in body:
            message["flags"] = (message["flags"] & EPHEMERAL) | int(body["flags"] or 0)
        message["attachments"] = self._attachments(
            message["channel_id"], body, uploads, message["attachments"]
        )
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = _now()
        events = [] if message["flags"] & EPHEMERAL else [("MESSAGE_UPDATE", copy.deepcopy(message))]
        return _Reply(body=copy.deepcopy(message), events=events)

    def _deleted(self, message: Payload) -> _Reply:
        del self._messages[message["id"]]
        self._reactors.pop(message["id"], None)
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        return _Reply(status=204, events=[] if message["flags"] & EPHEMERAL else [("MESSAGE_DELETE", event)])

    def _reaction_event(
        self, user_id: str, channel_id: str, message_id: str, emoji: str, *, add: bool
    ) -> Payload:
        """Record a reaction change on the stored message and build its gateway event."""
        message = self._messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            raise ValueError(f"no message {message_id} in channel {channel_id}")
        users = self._reactors.setdefault(message_id, {}).setdefault(emoji, [])
        if add and user_id not in users:
            users.append(user_id)
        elif not add and user_id in users:
            users.remove(user_id)
        message["reactions"] = [
            {
                "emoji": {"id": None, "name": name},
                "count": len(reactors),
                "count_details": {"burst": 0, "normal": len(reactors)},
                "burst_colors": [],
                "me": self.bot_user_id in reactors,
                "me_burst": False,
            }
            for name, reactors in self._reactors[message_id].items()
            if reactors
        ]
        event: Payload = {
            "user_id": user_id,
            "channel_id": channel_id,
            "message_id": message_id,
            "emoji": {"id": None, "name": emoji},
            "type": 0,
            "burst": False,
        }
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        if add:
            event.update(burst_colors=[], message_author_id=message["author"]["id"])
            if "guild_id" in message:
                event["member"] = self._member(user_id)
        return event

    def _find_command(self, name: str) -> Payload:
        for scope in (self.guild_id, None):
            for command in self._commands.get(scope, []):
                if command["name"] == name and command["type"] == 1:
                    return command
        raise LookupError(f"/{name} is not registered; the bot must sync its command tree first")

    def _option_values(self, schema: list[Payload], given: dict[str, Any]) -> tuple[list[Payload], Payload]:
        """Options as Discord sends them, typed from the registered schema, plus ``resolved`` users/roles."""
        by_name = {option["name"]: option for option in schema}
        unknown = sorted(set(given) - set(by_name))
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given]
        if unknown or missing:
            raise ValueError(
                f"options: unknown {unknown}, missing required {missing}; schema has {sorted(by_name)}"
            )
        values: list[Payload] = []
        resolved: Payload = {}
        for name, value in given.items():
            kind = by_name[name]["type"]
            if kind == 6:  # USER
                value = str(value)
                self._require_user(value)
                resolved.setdefault("users", {})[value] = self._user(value)
                member = {
                    **self._member(value, with_user=False),
                    "permissions": str(self._permissions(value)),
                }
                resolved.setdefault("members", {})[value] = member
            elif kind == 8:  # ROLE
                value = str(value)
                role = next((r for r in self._roles if r["id"] == value), None)
                if role is None:
                    raise ValueError(f"unknown role id {value}")
                resolved.setdefault("roles", {})[value] = role
            elif kind not in (3, 4, 5, 10):  # STRING, INTEGER, BOOLEAN, NUMBER
                raise NotImplementedError(f"option type {kind} ({name!r}) is not faked")
            values.append({"type": kind, "name": name, "value": value})
        return values, copy.deepcopy(resolved)

    def _new_interaction(
        self, kind: int, user_id: str, channel_id: str, data: Payload, message: Payload | None = None
    ) -> tuple[Payload, _Interaction]:
        """INTERACTION_CREATE with every field discord.py 2.7 reads, and the fake's record of it."""
        channel = self._channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}")
        interaction = _Interaction(
            id=self._snowflake(),
            token=secrets.token_urlsafe(48),
            type=kind,
            user_id=user_id,
            channel_id=channel_id,
            created=time.monotonic(),
            message_id=message["id"] if message else None,
        )
        self._interactions[interaction.id] = interaction
        self._interaction_by_token[interaction.token] = interaction
        in_guild = channel["type"] != DM
        event: Payload = {
            "id": interaction.id,
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "token": interaction.token,
            "version": 1,
            "channel_id": channel_id,
            "channel": channel,
            "locale": "en-US",
            "app_permissions": str(BOT_PERMISSIONS),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": self.guild_id} if in_guild else {"1": user_id},
            "context": 0 if in_guild else 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if in_guild:
            event["guild_id"] = self.guild_id
            event["guild"] = {"id": self.guild_id, "locale": "en-US", "features": []}
            event["guild_locale"] = "en-US"
            event["member"] = {**self._member(user_id), "permissions": str(self._permissions(user_id))}
        else:
            event["user"] = self._user(user_id)
        if message is not None:
            event["message"] = message
        return copy.deepcopy(event), interaction

    def _shown_modal(self, user_id: str, custom_id: str) -> tuple[_Interaction, Payload] | None:
        """The latest modal with ``custom_id`` the bot showed ``user_id``, and the interaction it answered."""
        for interaction in reversed(self._interactions.values()):
            if interaction.user_id != user_id:
                continue
            for response in interaction.responses:
                if response["type"] == MODAL and response["data"].get("custom_id") == custom_id:
                    return interaction, response["data"]
        return None


# --------------------------------------------------------------------- module helpers


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _take(rules: list[_RateLimit], method: str, path: str) -> _RateLimit | None:
    """The first rule with uses left that matches the request, one use taken (the caller holds the lock)."""
    rule = next(
        (r for r in rules if r.times > 0 and r.method == method and _match(r.pattern, path) is not None), None
    )
    if rule is not None:
        rule.times -= 1
    return rule


def _match(template: str, path: str) -> dict[str, str] | None:
    """Segment-wise match; ``{name}`` segments capture any value. Returns the captures or None."""
    want, have = template.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(have):
        return None
    params = {}
    for pattern, value in zip(want, have, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            params[pattern[1:-1]] = value
        elif pattern != value:
            return None
    return params


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with ``Content-Type: application/json`` and no charset: discord.py compares the header exactly
    and treats anything else (``web.json_response`` adds ``; charset=utf-8``) as a text body."""
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json", headers=headers
    )


def _bucket_headers(bucket: str) -> dict[str, str]:
    """Headers of a generous, never-exhausted bucket: discord.py learns the bucket but never waits."""
    return {
        "X-RateLimit-Bucket": hashlib.sha256(bucket.encode()).hexdigest()[:32],
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
    }


def _rate_limited(retry_after: float, bucket: str) -> web.Response:
    """A 429 discord.py retries: JSON ``retry_after`` plus ``Via`` (without, it assumes a Cloudflare ban)."""
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    headers = {
        **_bucket_headers(bucket),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Scope": "user",
        "Retry-After": str(max(1, round(retry_after))),
        "Via": "1.1 google",
    }
    return _json_response(429, body, headers)


def _fail(status: int, message: str, code: int, errors: Payload | None = None) -> _Reply:
    """Discord's JSON error: ``message`` and numeric ``code`` (discord.py puts both in HTTPException)."""
    body: Payload = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return _Reply(status=status, body=body)


def _field_error(path: str, code: str, message: str = "This field is required") -> Payload:
    """The nested ``errors`` of Discord's Invalid Form Body (50035) for one field (dotted ``path``)."""
    error: Payload = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        error = {part: error}
    return error


def _message_error(body: Payload, uploads: Sequence[_Upload]) -> _Reply | None:
    """Discord's checks that bite chat bots: empty messages and the content/embed length limits."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if not (
        content or embeds or body.get("components") or uploads or body.get("attachments") or body.get("poll")
    ):
        return _fail(400, "Cannot send an empty message", 50006)
    too_long = "BASE_TYPE_MAX_LENGTH"
    if len(content) > 2000:
        return _fail(
            400,
            "Invalid Form Body",
            50035,
            _field_error("content", too_long, "Must be 2000 or fewer in length."),
        )
    if len(embeds) > 10:
        return _fail(
            400,
            "Invalid Form Body",
            50035,
            _field_error("embeds", too_long, "Must be 10 or fewer in length."),
        )
    for index, embed in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            if len(embed.get(key) or "") > limit:
                message = f"Must be {limit} or fewer in length."
                return _fail(
                    400, "Invalid Form Body", 50035, _field_error(f"embeds.{index}.{key}", too_long, message)
                )
    return None


def _reply_ping(body: Payload, author_id: str, replied_to: Payload | None) -> list[str]:
    """A reply mentions the replied-to author unless ``allowed_mentions.replied_user`` is false."""
    if replied_to is None or replied_to["author"]["id"] == author_id:
        return []
    allowed = body.get("allowed_mentions") or {}
    return [replied_to["author"]["id"]] if allowed.get("replied_user", True) else []


def _role_mentions(content: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"<@&(\d+)>", content)))


def _find_component(components: list[Payload], custom_id: str) -> Payload | None:
    """Depth-first through action rows, containers, sections (``accessory``) and labels (``component``)."""
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        children = list(component.get("components") or [])
        children += [
            component[key] for key in ("accessory", "component") if isinstance(component.get(key), dict)
        ]
        found = _find_component(children, custom_id)
        if found is not None:
            return found
    return None


def _submitted(component: Payload, fields: dict[str, str]) -> Payload:
    """One component of a modal as Discord submits it; consumes the values it uses from ``fields``."""
    kind = component.get("type")
    if kind == 1:  # action row
        return {"type": 1, "components": [_submitted(c, fields) for c in component.get("components", [])]}
    if kind == 18:  # label
        return {
            "type": 18,
            "id": component.get("id"),
            "component": _submitted(component["component"], fields),
        }
    custom_id = component.get("custom_id")
    if custom_id is None:  # text display and other non-inputs
        return {"type": kind, "id": component.get("id")}
    if custom_id not in fields and component.get("required", True):
        raise ValueError(f"required modal input {custom_id!r} missing")
    value = fields.pop(custom_id, None)
    if kind == 4:  # text input
        return {"type": 4, "id": component.get("id"), "custom_id": custom_id, "value": value or ""}
    values = value if isinstance(value, list) else ([] if value is None else [value])
    return {"type": kind, "id": component.get("id"), "custom_id": custom_id, "values": values}


async def _read_body(request: web.Request) -> tuple[Any, list[_Upload]]:
    """JSON, or multipart with ``payload_json`` and ``files[n]`` (how discord.py sends attachments)."""
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        form = await request.post()
        uploads = [
            _Upload(name, value.filename, value.content_type, len(value.file.read()))
            for name, value in form.items()
            if isinstance(value, web.FileField)
        ]
        payload = form.get("payload_json")
        return (json.loads(payload) if isinstance(payload, str) else None), uploads
    text = await request.text()
    return (json.loads(text) if text else None), []


# --------------------------------------------------------------------- running a bot against the fake


class _Bot(Protocol):
    """What :class:`BotThread` uses of ``discord.Client`` (structural: this module doesn't import discord)."""

    async def login(self, token: str) -> None: ...

    async def connect(self, *, reconnect: bool = True) -> None: ...

    async def close(self) -> None: ...

    async def wait_until_ready(self) -> None: ...


class BotThread:
    """Run a discord.py client in its own thread and event loop, the way the bot process would run it.

    The fake's helpers block the calling thread until the fake has sent the event, and ``wait_for`` polls,
    so the bot cannot share the test's thread. Entering logs in (``setup_hook`` runs), connects and waits for
    ``on_ready``; :meth:`call` runs a coroutine on the bot's loop; leaving closes the client, cancels what it
    left running and stops the loop, so no session or task outlives the test.
    """

    def __init__(self, bot: _Bot, token: str, *, ready_timeout: float = 10) -> None:
        self.bot = bot
        self.token = token
        self.ready_timeout = ready_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="discord-bot", daemon=True)
        self._connection: asyncio.Task[None] | None = None

    def __enter__(self) -> BotThread:
        self._thread.start()
        try:
            self.call(self._start(), self.ready_timeout + 2)
        except BaseException:
            self._shutdown()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._shutdown()

    @property
    def crashed(self) -> BaseException | None:
        """Why ``connect()`` ended on its own (discord.py lets parser errors escape), else None."""
        task = self._connection
        if task is None or not task.done() or task.cancelled():
            return None
        return task.exception()

    def call(self, coro: Awaitable[T], timeout: float = 10) -> T:
        """Run ``coro`` on the bot's loop and return its result (discord objects are only safe there)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    async def _start(self) -> None:
        await self.bot.login(self.token)
        self._connection = asyncio.create_task(self.bot.connect())
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._connection, ready}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self._connection in done:
                self._connection.result()  # raises why it ended
            raise TimeoutError(f"bot not ready within {self.ready_timeout}s")

    async def _close(self) -> None:
        await self.bot.close()
        if self._connection is not None:
            await asyncio.wait({self._connection}, timeout=5)
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        await self._loop.shutdown_asyncgens()

    def _shutdown(self) -> None:
        if self._thread.is_alive():
            self.call(self._close(), 15)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()
