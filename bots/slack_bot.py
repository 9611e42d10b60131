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

This module wires Bolt's listeners to the service; rendering (``slack_render``), posting
(``slack_posting``), payload reading (``slack_payloads``), the admin check (``slack_admins``), connecting
(``slack_connect``), the HTTP endpoint (``slack_http``), the manifest (``slack_manifest``) and the buttons
and modals (``slack_actions``) live apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bots import messages
from bots.conversation import ConversationService
from bots.custom_ids import ESCALATE_ID, REASON_ID, VOTE_ID
from bots.platform import PLACEHOLDER_AFTER_S, InProgress, answer_with_placeholder
from bots.replies import Origin, Reply
from bots.slack_actions import SlackActions
from bots.slack_admins import SlackAdmins
from bots.slack_connect import checked_call, open_socket_mode
from bots.slack_http import EVENTS_PATH, SlackHttpEndpoint
from bots.slack_payloads import describe, get, incoming_message
from bots.slack_posting import PLATFORM, SlackPoster
from bots.slack_render import SlackEscalation, to_mrkdwn
from bots.user_input import Command, parse_command
from core.errors import SupportLoopError

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
ACK_WITHIN_S = 2.0  # a command's reply rides on the ack when it is ready by then (Slack waits 3 s)
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
        placeholder_after_s: float = PLACEHOLDER_AFTER_S,
        escalate: str | None = None,
    ) -> None:
        """``escalate``: who "Ask a person" calls (``SUPPORTLOOP_SLACK_ESCALATE``), None for nobody."""
        self.service = service
        self.api_url = api_url
        self.host = host
        self.connect_timeout_s = connect_timeout_s
        self.drain_s = drain_s
        self.placeholder_after_s = placeholder_after_s
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
        self.admins = SlackAdmins(self.client, admins)
        self._busy = InProgress()
        self._running = False
        self._socket: AsyncSocketModeHandler | None = None
        self._http: SlackHttpEndpoint | None = None
        self.poster = SlackPoster(self.client, service)
        target = SlackEscalation.parse(escalate) if escalate else None
        self.actions = SlackActions(service, self.client, self.poster, self._busy.working, target)
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
            escalate=settings.slack_escalate,
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
        return len(self._busy)

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
        auth = await checked_call("SUPPORTLOOP_SLACK_BOT_TOKEN", self.client.auth_test(), self.api_url)
        self.bot_user_id = str(auth["user_id"])
        self._mention = re.compile(rf"<@{re.escape(self.bot_user_id)}(?:\|[^>]*)?>")
        self._running = True
        try:
            if self._app_token is not None:
                self._socket = await open_socket_mode(
                    self.app, self.client, self._app_token, self.connect_timeout_s
                )
            else:
                assert self._signing_secret is not None  # checked above
                http = SlackHttpEndpoint(self.app, self._signing_secret, self.host, self._port)
                await http.start()
                self._port, self._http = http.port, http
        except BaseException:
            self._running = False
            raise
        log.info("%s started as bot user %s", self.description, self.bot_user_id)

    async def stop(self) -> None:
        """Stop taking requests, let answers in progress finish (up to ``drain_s``), disconnect."""
        self._running = False
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.close_async(), 10)
            self._socket = None
        late = await self._busy.drain(self.drain_s)
        for task in late:
            task.cancel()
        if late:
            log.warning("stopped %d Slack answers still in progress", len(late))
        log.info("Slack bot stopped")

    # ----------------------------------------------------------------- listeners

    def _register(self) -> None:
        app = self.app
        app.error(self._on_error)
        app.middleware(self._drop_malformed)
        app.event("app_mention")(self._on_message)
        app.event("message")(self._on_message)
        app.event("reaction_added")(self._on_reaction_added)
        app.event("reaction_removed")(self._on_reaction_removed)
        app.action(VOTE_ID)(self.actions.on_vote)
        app.action(ESCALATE_ID)(self.actions.on_escalate)
        app.view(REASON_ID)(self.actions.on_reason)
        app.command(re.compile(r"^/"))(self._on_command)  # the manifest's /supportloop, however renamed
        for event in IGNORED_EVENTS:
            app.event(event)(self._ignore_event)
        # Last: whatever else arrives is acknowledged, so Slack doesn't retry it or disable the app.
        app.event(re.compile(r".*"))(self._ignore_event)
        app.action(re.compile(r".*"))(self._ignore_interaction)
        app.view(re.compile(r".*"))(self._ignore_interaction)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("a Slack %s failed", describe(body), exc_info=error)

    async def _drop_malformed(self, body: dict[str, Any], next: Callable[[], Any]) -> BoltResponse | None:
        """Acknowledge an event callback without an event type: no listener can match it, and an
        unmatched request gets a 404 that Slack would retry."""
        if body.get("type") == "event_callback" and not isinstance(get(body, "event", "type"), str):
            log.warning("dropped a malformed Slack event callback (no event type)")
            return BoltResponse(status=200, body="")
        return await next()

    async def _ignore_event(self, event: dict[str, Any]) -> None:
        log.debug("ignored Slack event %s", event.get("type"))

    async def _ignore_interaction(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        log.debug("ignored Slack %s", describe(body))

    async def _on_message(self, event: dict[str, Any]) -> None:
        with self._busy.working():
            incoming = incoming_message(event, self.bot_user_id, self._mention)
            if incoming is None:
                return
            question = await self.service.call(self.service.question_in, incoming)
            if question is not None:
                await self._answer(question, incoming.origin)

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
        with self._busy.working():
            origin = Origin(PLATFORM, user, channel)
            thanks = await self.service.call(self.service.react, origin, channel, ts, emoji, added)
            if thanks is not None:  # a new 👎: thanked privately in the answer's thread, offering a person
                await self.poster.private(channel, user, thanks, thanks.thread)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """``/supportloop …``, acked within Slack's 3 s. A private reply ready by then rides on the ack
        (else it follows as an ephemeral message); public ones (answers, queued jobs, rollbacks) are posted
        in the channel, and a job's progress lines after them. ``ask`` acks at once with the placeholder,
        privately, since answering can take longer than Slack waits."""
        with self._busy.working():
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
                    await self.poster.deliver(reply, channel)
                elif acked:
                    await self.poster.ephemeral(channel, user, reply.text)
            finally:
                first_posted.set()

    async def _run_command(self, command: Command, origin: Origin, first_posted: asyncio.Event) -> Reply:
        """The service's reply to a command; a crash becomes the internal-error line, not silence."""
        try:
            # status shows admins more, so it asks too
            asks = self.service.needs_admin(command) or command.name == "status"
            is_admin = asks and await self.admins.is_admin(str(origin.user_id))
            post = self.poster.line_poster(str(origin.channel), first_posted, lambda: self._running)
            return await self.service.call(
                self.service.command, command, origin, is_admin=is_admin, post=post
            )
        except Exception:
            log.exception("/supportloop %s failed", command.name)
            return Reply(messages.INTERNAL_ERROR, "error", private=True)

    # ----------------------------------------------------------------- posting

    async def _answer(self, question: str, origin: Origin) -> None:
        """The answer in the thread; if it takes longer than ``placeholder_after_s``, a placeholder first
        and then the answer in its place (``chat.update``), and after it, if long.

        A private reply (a rate limit, an empty question) takes the placeholder's place as well: the
        placeholder is public already, and left alone it would promise an answer that never comes.
        """
        channel = str(origin.channel)
        reply, placeholder = await answer_with_placeholder(
            self.service.call(self.service.ask, question, origin),
            lambda: self.poster.placeholder(channel, origin.thread),
            self.placeholder_after_s,
        )
        await self.poster.deliver(reply, channel, placeholder=placeholder, thread=origin.thread)
