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

``FakeDiscord`` keeps the state and what tests call; its parts live by concern in mixins:
``fakes.discord_rest`` (REST routes), ``fakes.discord_gateway`` (the gateway and the events users cause),
``fakes.discord_interactions`` (commands and interaction responses), ``fakes.discord_state`` (guild
state and payloads), with the constants, records and response helpers in ``fakes.discord_wire``.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from aiohttp import web

from fakes.discord_gateway import Gateway
from fakes.discord_interactions import Interactions
from fakes.discord_rest import RestRoutes
from fakes.discord_state import GuildState
from fakes.discord_wire import (
    ADMINISTRATOR,
    API_PREFIX,
    BOT_PERMISSIONS,
    EPHEMERAL,
    EVERYONE_PERMISSIONS,
    THREAD_TYPES,
    Call,
    Handler,
    Payload,
    T,
    _Interaction,
    _match,
    _RateLimit,
    _Session,
    _User,
)
from fakes.server_thread import ServerThread


class FakeDiscord(ServerThread, Gateway, RestRoutes, Interactions, GuildState):
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
