"""The Slack adapter: Slack events in, conversation-service calls, Slack messages out.

Everything a user sees is decided by ``ConversationService``; this module only translates. A mention,
a DM or a follow-up in a thread becomes an ``IncomingMessage``; the answer's ``Reply`` becomes Block Kit
(mrkdwn sections, a context line of sources, 👍/👎 buttons on the last message); buttons, reactions, the
"what was wrong?" modal and ``/supportloop`` become ``vote``/``react``/``give_reason``/``command``.

It runs on slack-bolt's ``AsyncApp`` in one of two modes:

* **Socket Mode** (with an app-level token): a websocket to Slack, nothing to expose to the internet.
* **HTTP** (with a signing secret): Slack POSTs to ``/slack/events``, served by uvicorn bound to the
  configured host (Bolt's own dev server always binds 0.0.0.0).

Slack wants every request acknowledged within 3 s and re-delivers late ones (``X-Slack-Retry-Num``, or a
replay after a Socket Mode reconnect). So listeners ack first and answer afterwards; the service's claim
on ``slack:<channel>:<ts>`` makes a re-delivered message, or a mention that arrives both as
``app_mention`` and as ``message``, one answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bots import messages
from bots.conversation import (
    REASON_ID,
    VOTE_ID,
    Command,
    ConversationService,
    IncomingMessage,
    Origin,
    Reply,
    parse_command,
    parse_reason_id,
    parse_vote_id,
    reason_id,
    vote_id,
)
from bots.formatting import split_text
from core.errors import SupportLoopError

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "slack"
COMMAND = "/supportloop"
EVENTS_PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"
SECTION_CHARS = 3000  # Slack's limit on a section block's text
MESSAGE_CHARS = 39_000  # a message's text (its notification fallback) is cut at 40k
MESSAGE_BLOCKS = 45  # of Slack's 50 per message, leaving room for the sources and the buttons
ACK_WITHIN_S = 2.0  # a command's reply rides on the ack when it is ready by then (Slack waits 3 s)
ADMIN_CACHE_S = 300.0
POST_LINE_TIMEOUT_S = 30.0
REASON_BLOCK = REASON_ACTION = "reason"
# Plain messages, the two subtypes that still carry a person's words, and bots' messages (which the
# service ignores); edits, deletions, joins and the like are not questions.
ANSWERED_SUBTYPES = {None, "thread_broadcast", "file_share", "bot_message"}
# Events a workspace may send that SupportLoop has no use for; acknowledged so Slack doesn't retry them.
IGNORED_EVENTS = (
    "app_home_opened",
    "app_uninstalled",
    "tokens_revoked",
    "member_joined_channel",
    "member_left_channel",
    "channel_left",
    "group_left",
)
# What the adapter calls and subscribes to, and so the scopes the manifest asks for.
BOT_SCOPES = (
    "app_mentions:read",  # app_mention
    "channels:history",  # message.channels: follow-ups in public threads
    "groups:history",  # message.groups: the same in private channels
    "im:history",  # message.im: direct messages
    "chat:write",  # chat.postMessage, chat.update, chat.postEphemeral
    "commands",  # /supportloop
    "reactions:read",  # reaction_added / reaction_removed
    "users:read",  # users.info: is the user a workspace admin?
)
BOT_EVENTS = (
    "app_mention",
    "message.im",
    "message.channels",
    "message.groups",
    "reaction_added",
    "reaction_removed",
)
# What a Web API call can raise: Slack's refusal, or the network's.
SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, OSError, TimeoutError)
_LINK = re.compile(r"\[(?P<title>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(?P<text>.+?)(?<=\S)\*\*")


# --------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class SlackMessage:
    """One Slack message of a reply: Block Kit blocks and the plain-text fallback for notifications."""

    text: str
    blocks: list[dict[str, Any]]


def escape(text: str) -> str:
    """Slack's three control characters, so answer text can never become a link or an @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(text: str) -> str:
    """Reply text as Slack mrkdwn: escaped, Markdown links as ``<url|title>``, ``**bold**`` as ``*bold*``."""
    pieces, done = [], 0
    for link in _LINK.finditer(text):
        pieces += [escape(text[done : link.start()]), f"<{escape(link['url'])}|{escape(link['title'])}>"]
        done = link.end()
    pieces.append(escape(text[done:]))
    return _BOLD.sub(lambda m: f"*{m['text']}*", "".join(pieces))


def render_reply(reply: Reply) -> list[SlackMessage]:
    """The messages that show ``reply``: its text in ≤3000-character sections, as many messages as the
    per-message limits need, with the sources and the 👍/👎 buttons under the last one."""
    parts = [part for part in split_text(to_mrkdwn(reply.text), SECTION_CHARS) if part.strip()] or ["…"]
    groups: list[list[str]] = [[]]
    for part in parts:
        group = groups[-1]
        if group and (len(group) >= MESSAGE_BLOCKS or sum(map(len, group)) + len(part) > MESSAGE_CHARS):
            groups.append(group := [])
        group.append(part)
    rendered = []
    for n, group in enumerate(groups):
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": part}} for part in group
        ]
        if n == len(groups) - 1:
            blocks += _sources_block(reply) + _vote_block(reply)
        rendered.append(SlackMessage("\n".join(group), blocks))
    return rendered


def _sources_block(reply: Reply) -> list[dict[str, Any]]:
    if not reply.sources:
        return []
    links = " · ".join(f"<{escape(s.url)}|{escape(s.title)}>" for s in reply.sources)
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{messages.SOURCES}:* {links}"}]}]


def _vote_block(reply: Reply) -> list[dict[str, Any]]:
    if reply.answer_id is None:
        return []
    buttons = []
    for vote, emoji in ((1, "👍"), (-1, "👎")):
        custom_id = vote_id(reply.answer_id, vote)
        text = {"type": "plain_text", "text": emoji, "emoji": True}
        buttons.append({"type": "button", "action_id": custom_id, "value": custom_id, "text": text})
    return [{"type": "actions", "block_id": "supportloop_votes", "elements": buttons}]


def reason_view(answer_id: int, channel: str | None, thread: str | None) -> dict[str, Any]:
    """The optional "what was wrong?" modal; it remembers where the vote was, to thank the user there."""
    return {
        "type": "modal",
        "callback_id": reason_id(answer_id),
        "title": {"type": "plain_text", "text": messages.REASON_TITLE[:24]},
        "submit": {"type": "plain_text", "text": messages.REASON_SUBMIT},
        "close": {"type": "plain_text", "text": messages.REASON_SKIP},
        "private_metadata": json.dumps({"channel": channel, "thread": thread}),
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": messages.REASON_PROMPT},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "multiline": True,
                    "max_length": 2000,
                },
            }
        ],
    }


# --------------------------------------------------------------------- the manifest


def slack_manifest(*, request_url: str | None, name: str = "SupportLoop") -> dict[str, Any]:
    """The Slack app manifest for this adapter (paste it at api.slack.com/apps → Create from manifest).

    Without ``request_url`` the app uses Socket Mode (create an app-level token with
    ``connections:write``); with it, Slack sends events, interactions and the command to that URL (it
    should end in ``/slack/events``).
    """
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": messages.COMMAND_DESCRIPTION,
        "usage_hint": messages.COMMAND_USAGE,
        "should_escape": False,
    }
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url is not None:
        command["url"] = events["request_url"] = interactivity["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name[:35],
            "description": messages.COMMAND_DESCRIPTION[:140],
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": name[:80], "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }


# --------------------------------------------------------------------- the bot


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside the application: the application's shell owns SIGINT/SIGTERM, not the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SlackBot:
    """SupportLoop on Slack, in Socket Mode (``app_token``) or over HTTP (``signing_secret``).

    ``await start()`` checks the bot token, connects and returns; the bot then answers on the running
    event loop until ``await stop()``.
    """

    def __init__(
        self,
        service: ConversationService,
        *,
        bot_token: str,
        app_token: str | None = None,
        signing_secret: str | None = None,
        api_url: str = DEFAULT_API_URL,
        admins: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 3000,
        connect_timeout_s: float = 15.0,
        drain_s: float = 10.0,
    ) -> None:
        self.service = service
        self.api_url = api_url
        self.admins = frozenset(admins)
        self.host = host
        self.connect_timeout_s = connect_timeout_s
        self.drain_s = drain_s
        self.bot_user_id: str | None = None
        self._app_token = app_token or None
        self._signing_secret = signing_secret or None
        self._port = port
        self.client = AsyncWebClient(
            token=bot_token,
            base_url=api_url,
            timeout=30,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            ],
        )
        self.app = AsyncApp(client=self.client, signing_secret=self._signing_secret or "", name="supportloop")
        self._mention = re.compile(r"(?!x)x")  # matches nothing until start() learns the bot's user id
        self._admin_cache: dict[str, tuple[bool, float]] = {}
        self._busy: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._running = False
        self._socket: AsyncSocketModeHandler | None = None
        self._server: _EmbeddedServer | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._register()

    @classmethod
    def from_settings(cls, service: ConversationService, settings: Settings) -> SlackBot:
        """The bot as the settings describe it (``SUPPORTLOOP_SLACK_*``)."""

        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        bot_token = secret(settings.slack_bot_token)
        if not bot_token:
            raise SupportLoopError("Set SUPPORTLOOP_SLACK_BOT_TOKEN (xoxb-…) to run the Slack bot.")
        return cls(
            service,
            bot_token=bot_token,
            app_token=secret(settings.slack_app_token),
            signing_secret=secret(settings.slack_signing_secret),
            api_url=settings.slack_api_url,
            admins=settings.slack_admins,
            host=settings.slack_host,
            port=settings.slack_port,
        )

    # ----------------------------------------------------------------- lifecycle

    @property
    def socket_mode(self) -> bool:
        return self._app_token is not None

    @property
    def port(self) -> int | None:
        """The HTTP port: the bound one once started (also when 0 asked for any); None in Socket Mode."""
        return None if self.socket_mode else self._port

    @property
    def answering(self) -> int:
        """How many events, clicks and commands are being handled right now (``stop`` waits for them)."""
        return sum(not task.done() for task in self._busy)

    @property
    def description(self) -> str:
        if self.socket_mode:
            return "Slack (Socket Mode)"
        return f"Slack (HTTP on {self.host}:{self._port}{EVENTS_PATH})"

    async def start(self) -> None:
        """Check the configuration and the bot token, then connect; raises a one-line SupportLoopError."""
        if not self.socket_mode and not self._signing_secret:
            raise SupportLoopError(
                "Slack needs SUPPORTLOOP_SLACK_APP_TOKEN (Socket Mode) or SUPPORTLOOP_SLACK_SIGNING_SECRET "
                "(HTTP events); neither is set."
            )
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        auth = await self._slack_call("SUPPORTLOOP_SLACK_BOT_TOKEN", self.client.auth_test())
        self.bot_user_id = str(auth["user_id"])
        self._mention = re.compile(rf"<@{re.escape(self.bot_user_id)}(?:\|[^>]*)?>")
        self._running = True
        try:
            await (self._start_socket_mode() if self.socket_mode else self._start_http())
        except BaseException:
            self._running = False
            raise
        log.info("%s started as bot user %s", self.description, self.bot_user_id)

    async def stop(self) -> None:
        """Stop taking requests, let answers in progress finish (up to ``drain_s``), disconnect."""
        self._running = False
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True  # uvicorn finishes the requests it has, then returns
            _, late = await asyncio.wait({self._server_task}, timeout=10)
            for task in late:
                task.cancel()
            self._server = self._server_task = None
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.close_async(), 10)
            self._socket = None
        busy = {task for task in self._busy if not task.done()}
        if busy:
            _, late = await asyncio.wait(busy, timeout=self.drain_s)
            for task in late:
                task.cancel()
            if late:
                log.warning("stopped %d Slack answers still in progress", len(late))
        log.info("Slack bot stopped")

    async def _start_socket_mode(self) -> None:
        assert self._app_token is not None
        handler = AsyncSocketModeHandler(self.app, self._app_token, web_client=self.client)
        try:
            # Opened here rather than by connect_async(), which retries a rejected token forever.
            opened = await self._slack_call(
                "SUPPORTLOOP_SLACK_APP_TOKEN", self.client.apps_connections_open(app_token=self._app_token)
            )
            handler.client.wss_uri = opened["url"]
            await asyncio.wait_for(handler.connect_async(), self.connect_timeout_s)
        except BaseException as exc:
            await handler.close_async()
            if isinstance(exc, TimeoutError):
                raise SupportLoopError(
                    f"Could not open the Slack Socket Mode connection within {self.connect_timeout_s:g} s."
                ) from exc
            raise
        self._socket = handler

    async def _start_http(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self._port), family=family)
        except OSError as exc:
            raise SupportLoopError(
                f"Cannot listen for Slack on {self.host}:{self._port} ({exc.strerror or exc}); "
                "set SUPPORTLOOP_SLACK_HOST / SUPPORTLOOP_SLACK_PORT."
            ) from exc
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            AsyncSlackRequestHandler(self.app, EVENTS_PATH),
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
            raise SupportLoopError(f"The Slack HTTP endpoint on {self.host}:{self._port} did not start.")
        self._server, self._server_task = server, task

    async def _slack_call(self, setting: str, call: Awaitable[Any]) -> Any:
        """Await a Web API call made at start-up, as a one-line error naming the setting at fault."""
        try:
            return await call
        except SlackApiError as exc:
            raise SupportLoopError(f"Slack rejected {setting} ({exc.response.get('error', '?')}).") from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise SupportLoopError(f"Cannot reach the Slack API at {self.api_url} ({detail}).") from exc

    # ----------------------------------------------------------------- listeners

    def _register(self) -> None:
        app = self.app
        app.error(self._on_error)
        app.middleware(self._drop_malformed)
        app.event("app_mention")(self._on_message)
        app.event("message")(self._on_message)
        app.event("reaction_added")(self._on_reaction_added)
        app.event("reaction_removed")(self._on_reaction_removed)
        app.action(VOTE_ID)(self._on_vote)
        app.view(REASON_ID)(self._on_reason)
        app.command(re.compile(r"^/"))(self._on_command)  # the manifest's /supportloop, however renamed
        for event in IGNORED_EVENTS:
            app.event(event)(self._ignore_event)
        # Last: whatever else arrives is acknowledged, so Slack doesn't retry it or disable the app.
        app.event(re.compile(r".*"))(self._ignore_event)
        app.action(re.compile(r".*"))(self._ignore_interaction)
        app.view(re.compile(r".*"))(self._ignore_interaction)

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        """Mark the current task as an answer in progress, so ``stop`` lets it finish."""
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._busy.discard(task)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("a Slack %s failed", _describe(body), exc_info=error)

    async def _drop_malformed(self, body: dict[str, Any], next: Callable[[], Any]) -> BoltResponse | None:
        """Acknowledge an event callback without an event type: no listener can match it, and an
        unmatched request gets a 404 that Slack would retry."""
        if body.get("type") == "event_callback" and not isinstance(_get(body, "event", "type"), str):
            log.warning("dropped a malformed Slack event callback (no event type)")
            return BoltResponse(status=200, body="")
        return await next()

    async def _ignore_event(self, event: dict[str, Any]) -> None:
        log.debug("ignored Slack event %s", event.get("type"))

    async def _ignore_interaction(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        log.debug("ignored Slack %s", _describe(body))

    async def _on_message(self, event: dict[str, Any]) -> None:
        with self._working():
            incoming = self._incoming(event)
            if incoming is None:
                return
            question = await self.service.call(self.service.question_in, incoming)
            if question is not None:
                await self._answer(question, incoming.origin)

    def _incoming(self, event: dict[str, Any]) -> IncomingMessage | None:
        """The service's view of an ``app_mention``/``message`` event; None for edits, joins, junk."""
        kind, subtype = event.get("type"), event.get("subtype")
        if subtype not in ANSWERED_SUBTYPES:
            log.debug("ignored a Slack %s event of subtype %s", kind, subtype)
            return None
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        from_bot = bool(event.get("bot_id")) or subtype == "bot_message" or user == self.bot_user_id
        if not (isinstance(channel, str) and isinstance(ts, str)) or not (user or from_bot):
            log.warning("dropped a malformed Slack %s event (no channel, ts or user)", kind)
            return None
        text = event.get("text") if isinstance(event.get("text"), str) else ""
        thread = event.get("thread_ts") if isinstance(event.get("thread_ts"), str) else None
        return IncomingMessage(
            origin=Origin(PLATFORM, user, channel, thread or ts),
            message_id=ts,
            text=self._mention.sub(" ", text).strip(),
            is_dm=event.get("channel_type") == "im",
            mentions_bot=kind == "app_mention" or bool(self._mention.search(text)),
            from_bot=from_bot,
            in_thread=thread is not None and thread != ts,
        )

    async def _on_reaction_added(self, event: dict[str, Any]) -> None:
        await self._on_reaction(event, added=True)

    async def _on_reaction_removed(self, event: dict[str, Any]) -> None:
        await self._on_reaction(event, added=False)

    async def _on_reaction(self, event: dict[str, Any], added: bool) -> None:
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        user, emoji = event.get("user"), event.get("reaction")
        channel, ts = item.get("channel"), item.get("ts")
        if not (user and emoji and channel and ts):
            if item.get("type", "message") == "message":
                log.warning("dropped a malformed Slack %s event", event.get("type"))
            return
        if user == self.bot_user_id:
            return
        with self._working():
            origin = Origin(PLATFORM, user, channel)
            await self.service.call(self.service.react, origin, channel, ts, emoji, added)

    async def _on_vote(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A 👍/👎 button: record the vote, thank the voter privately; a 👎 also opens the reason modal."""
        await ack()
        with self._working():
            parsed = parse_vote_id(action.get("action_id", ""))
            user = _get(body, "user", "id")
            channel = _get(body, "channel", "id") or _get(body, "container", "channel_id")
            thread = _get(body, "container", "thread_ts") or _get(body, "message", "thread_ts")
            if parsed is None or not user:
                log.warning("dropped a malformed Slack vote action")
                return
            answer_id, vote = parsed
            origin = Origin(PLATFORM, user, channel, thread)
            reply = await self.service.call(self.service.vote, answer_id, origin, vote)
            trigger = body.get("trigger_id")
            if vote < 0 and reply.kind != "error" and trigger:
                # The trigger expires 3 s after the click, so the modal goes before anything else.
                try:
                    await self.client.views_open(
                        trigger_id=trigger, view=reason_view(answer_id, channel, thread)
                    )
                except SLACK_ERRORS as exc:
                    log.warning("could not open the reason modal (%s)", _why(exc))
            if channel:
                await self._ephemeral(channel, user, reply.text, thread)

    async def _on_reason(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The reason modal was sent: attach the note to the 👎; an empty note is like closing it."""
        await ack()
        with self._working():
            answer_id = parse_reason_id(view.get("callback_id", ""))
            user = _get(body, "user", "id")
            if answer_id is None or not user:
                log.warning("dropped a malformed Slack reason submission")
                return
            note = _get(view, "state", "values", REASON_BLOCK, REASON_ACTION, "value") or ""
            try:
                where = json.loads(view.get("private_metadata") or "{}")
            except ValueError:
                where = {}
            where = where if isinstance(where, dict) else {}
            channel, thread = where.get("channel"), where.get("thread")
            origin = Origin(PLATFORM, user, channel, thread)
            reply = await self.service.call(self.service.give_reason, answer_id, origin, str(note))
            if str(note).strip() and channel:
                await self._ephemeral(channel, user, reply.text, thread)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """``/supportloop …``, acked within Slack's 3 s. A private reply ready by then rides on the ack
        (else it follows as an ephemeral message); public ones (answers, queued jobs, rollbacks) are posted
        in the channel, and a job's progress lines after them. ``ask`` acks at once with the placeholder,
        privately, since answering can take longer than Slack waits."""
        with self._working():
            user, channel = command.get("user_id"), command.get("channel_id")
            if not user or not channel:
                await ack()
                log.warning("dropped a malformed Slack slash command")
                return
            parsed = parse_command(command.get("text") or "")
            first_posted = asyncio.Event()  # job lines wait for the "queued" line
            try:
                task = asyncio.ensure_future(
                    self._run_command(parsed, Origin(PLATFORM, user, channel), first_posted)
                )
                acked = parsed.name == "ask"
                if acked:
                    await ack(text=to_mrkdwn(messages.PLACEHOLDER))
                else:
                    try:
                        reply = await asyncio.wait_for(asyncio.shield(task), ACK_WITHIN_S)
                    except TimeoutError:
                        await ack()
                        acked = True
                    else:
                        await ack(text=to_mrkdwn(reply.text) if reply.private else "")
                reply = await task
                if not reply.private:
                    await self._deliver(reply, channel)
                elif acked:
                    await self._ephemeral(channel, user, reply.text)
            finally:
                first_posted.set()

    async def _run_command(self, command: Command, origin: Origin, first_posted: asyncio.Event) -> Reply:
        """The service's reply to a command; a crash becomes the internal-error line, not silence."""
        try:
            is_admin = self.service.needs_admin(command) and await self._is_admin(str(origin.user_id))
            post = self._line_poster(str(origin.channel), first_posted)
            return await self.service.call(
                self.service.command, command, origin, is_admin=is_admin, post=post
            )
        except Exception:
            log.exception("/supportloop %s failed", command.name)
            return Reply(messages.INTERNAL_ERROR, "error", private=True)

    # ----------------------------------------------------------------- posting

    async def _answer(self, question: str, origin: Origin) -> None:
        """Placeholder in the thread at once, then the answer in its place (and after it, if long).

        A private reply (a rate limit, an empty question) takes the placeholder's place as well: the
        placeholder is public already, and left alone it would promise an answer that never comes.
        """
        channel = str(origin.channel)
        placeholder = await self._post_placeholder(channel, origin.thread)
        if placeholder is None:
            return
        reply = await self.service.call(self.service.ask, question, origin)
        await self._deliver(reply, channel, placeholder=placeholder, thread=origin.thread)

    async def _post_placeholder(self, channel: str, thread: str | None) -> str | None:
        try:
            posted = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread, text=messages.PLACEHOLDER
            )
        except SLACK_ERRORS as exc:
            log.error("could not post in Slack channel %s (%s)", channel, _why(exc))
            return None
        return str(posted["ts"])

    async def _deliver(
        self, reply: Reply, channel: str, *, placeholder: str | None = None, thread: str | None = None
    ) -> None:
        """Show ``reply``: its first message replaces the placeholder (or is posted in ``thread``, or in the
        channel), the rest follow in the thread; each is linked to the answer so reactions on it count."""
        for n, message in enumerate(render_reply(reply)):
            fields: dict[str, Any] = {"text": message.text, "blocks": message.blocks}
            try:
                if n == 0 and placeholder is not None:
                    ts = await self._update(channel, placeholder, fields)
                else:
                    posted = await self.client.chat_postMessage(
                        channel=channel, thread_ts=thread, unfurl_links=False, unfurl_media=False, **fields
                    )
                    ts = str(posted["ts"])
            except SLACK_ERRORS as exc:
                log.error("could not post a reply in Slack channel %s (%s)", channel, _why(exc))
                return
            thread = thread or ts
            await self.service.call(self.service.posted, reply, PLATFORM, channel, ts)

    async def _update(self, channel: str, ts: str, fields: dict[str, Any]) -> str:
        """``chat.update``; if Slack refuses the blocks, the text alone, so the placeholder never stays."""
        try:
            await self.client.chat_update(channel=channel, ts=ts, **fields)
        except SlackApiError as exc:
            if exc.response.get("error") not in {"invalid_blocks", "invalid_blocks_format", "msg_too_long"}:
                raise
            log.warning("Slack refused an answer's blocks (%s); sending text only", exc.response.get("error"))
            await self.client.chat_update(
                channel=channel, ts=ts, text=fields["text"][:SECTION_CHARS], blocks=[]
            )
        return ts

    async def _ephemeral(self, channel: str, user: str, text: str, thread: str | None = None) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=to_mrkdwn(text), thread_ts=thread
            )
        except SLACK_ERRORS as exc:
            log.warning("could not post a private reply in Slack (%s)", _why(exc))

    def _line_poster(self, channel: str, first_posted: asyncio.Event | None) -> Callable[[str], None]:
        """``post`` for the service: called from a worker thread, it hands the line to the event loop and
        waits until it is posted, so a job's lines arrive in order (and after the "queued" line)."""
        loop = self._loop
        assert loop is not None

        async def post(line: str) -> None:
            if first_posted is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_posted.wait(), POST_LINE_TIMEOUT_S)
            try:
                await self.client.chat_postMessage(channel=channel, text=to_mrkdwn(line))
            except SLACK_ERRORS as exc:
                log.warning("could not post a job update in Slack (%s)", _why(exc))

        def post_line(line: str) -> None:
            if not self._running or loop.is_closed():
                log.info("Slack bot stopped; not posting: %s", line)
                return
            future = asyncio.run_coroutine_threadsafe(post(line), loop)
            if threading.get_ident() == self._loop_thread:
                return  # called on the loop itself: waiting would deadlock
            try:
                future.result(POST_LINE_TIMEOUT_S)
            except Exception:
                log.exception("could not post a job update in Slack")

        return post_line

    async def _is_admin(self, user: str) -> bool:
        """A configured admin, or a workspace admin/owner per ``users.info`` (cached; a failure is "no")."""
        if user in self.admins:
            return True
        now = time.monotonic()
        cached = self._admin_cache.get(user)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            info = (await self.client.users_info(user=user))["user"]
        except SLACK_ERRORS as exc:
            log.warning("users.info failed (%s); treating the user as no admin", _why(exc))
            return False
        is_admin = any(bool(info.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner"))
        self._admin_cache[user] = (is_admin, now + ADMIN_CACHE_S)
        return is_admin


def _why(exc: BaseException) -> str:
    """Slack's error code, or the kind of network failure, for a log line."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "?"))
    return type(exc).__name__


def _get(data: Any, *keys: str) -> Any:
    """``data[k1][k2]…`` or None when any level is missing or not a dict (payloads can be partial)."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _describe(body: dict[str, Any]) -> str:
    """What a request is, for logs (never its content)."""
    kind = body.get("type") or ("command" if "command" in body else "request")
    if kind == "event_callback":
        return f"event {_get(body, 'event', 'type')}"
    return str(kind)
