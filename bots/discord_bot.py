"""The Discord adapter: discord.py events in, ``ConversationService`` calls, Discord messages out.

What it does on Discord:
- a mention in a channel opens a thread on the question and answers there; a DM is answered in the DM;
  later messages in that thread are answered without a mention;
- an answer slower than ~2 s gets the placeholder ("Looking through the help pages…") first, which is
  then edited into the answer;
- sources go in an embed, 👍/👎 are persistent buttons (their custom ids carry the answer id, so they
  work after a restart) and 👍/👎 reactions count too; 👎 opens an optional "what was wrong?" modal;
- ``/supportloop ask|status|gaps|reindex|retrain|audit|rollback`` (``bots.discord_commands``);
  admin-only ones need the Administrator permission in the channel or the configured admin role;
- with ``SUPPORTLOOP_DISCORD_ESCALATE_ROLE``, a decline and the thanks for a 👎's note carry "Ask a
  person", which mentions that role in the thread with the question and the answer, once per thread.

Nothing here decides what users see; the service does. Only the minimal intents are requested
(message content is privileged: enable it for the bot in the Developer Portal, or follow-ups in threads
cannot be read).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bots import messages
from bots.conversation import ConversationService
from bots.discord_commands import SlashCommands
from bots.discord_views import (
    MESSAGE_LIMIT,
    PLATFORM,
    EscalateButton,
    ReasonModal,
    VoteButton,
    buttons_for,
    origin_of,
    reply_messages,
)
from bots.platform import PLACEHOLDER_AFTER_S, InProgress, answer_with_placeholder
from bots.replies import IncomingMessage, Origin, Reply
from core.errors import SupportLoopError

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

RECONNECT_S = 5
DRAIN_S = 10  # on shutdown, answers already being written get this long to be posted and linked
THREAD_NAME_LIMIT = 100
INTENTS = discord.Intents(  # nothing else: no members, presences, typing or voice
    guilds=True,
    guild_messages=True,
    dm_messages=True,
    guild_reactions=True,
    dm_reactions=True,
    message_content=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    read_message_history=True,
)
# The bot never joins voice channels: no warnings about the voice libraries it does not need.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


def invite_url(client_id: str) -> str:
    """The URL that adds the bot to a server with exactly the scopes and permissions it uses."""
    return discord.utils.oauth_url(client_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


def client_id_from_token(token: str) -> str | None:
    """The application (client) id a bot token belongs to: its first part is the id in base64."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if decoded.isdigit() else None


class SupportLoopBot(commands.Bot):
    """discord.py's bot, knowing its adapter (buttons reach it through ``interaction.client``)."""

    def __init__(self, adapter: DiscordBot, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=INTENTS, help_command=None, **options
        )
        self.adapter = adapter
        # discord.py lets an exception in its own payload parsers end the whole connection, so one
        # malformed gateway event would take the bot down: drop such an event instead, and log it.
        parsers = self._connection.parsers
        for event, parse in list(parsers.items()):
            parsers[event] = _guarded(event, parse)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton, EscalateButton)
        self.tree.add_command(self.adapter.commands.group())
        self.tree.on_error = self.adapter.commands.on_error
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.adapter.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        with self.adapter.in_progress.working():
            await self.adapter.on_message(message)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        with self.adapter.in_progress.working():
            await self.adapter.on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        with self.adapter.in_progress.working():
            await self.adapter.on_reaction(payload, added=False)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("Discord event %s failed", event_method)


class DiscordBot:
    """Serves the conversation service on Discord (or a Discord-compatible server)."""

    def __init__(
        self,
        service: ConversationService,
        *,
        token: str,
        api_url: str = "https://discord.com/api/v10",
        gateway_url: str = "wss://gateway.discord.gg/",
        admin_role: str | None = None,
        escalate_role: str | None = None,
        placeholder_after_s: float = PLACEHOLDER_AFTER_S,
        **bot_options: Any,
    ) -> None:
        """``escalate_role``: the id of the role "Ask a person" mentions, None for nobody."""
        self.service = service
        self.escalate_role = escalate_role
        self.token = token
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.in_progress = InProgress()
        self.commands = SlashCommands(service, self.in_progress, admin_role)
        self.placeholder_after_s = placeholder_after_s
        self.bot_options = bot_options
        self.bot: SupportLoopBot | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, service: ConversationService, settings: Settings) -> DiscordBot:
        """The bot as the settings describe it (``SUPPORTLOOP_DISCORD_*``)."""
        if settings.discord_token is None:
            raise SupportLoopError("Set SUPPORTLOOP_DISCORD_TOKEN to run the Discord bot.")
        return cls(
            service,
            token=settings.discord_token.get_secret_value(),
            api_url=settings.discord_api_url,
            gateway_url=settings.discord_gateway_url,
            admin_role=settings.discord_admin_role,
            escalate_role=settings.discord_escalate_role,
        )

    @property
    def description(self) -> str:
        if self.bot is not None and self.bot.user is not None:
            return f"Discord (as {self.bot.user.name})"
        return "Discord"

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Log in, connect to the gateway and wait until the bot is ready."""
        # discord.py reads both from class attributes; one Discord connection per process.
        discord.http.Route.BASE = self.api_url.rstrip("/")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        self.ready.clear()
        self.bot = SupportLoopBot(self, **self.bot_options)
        try:
            await self.bot.login(self.token)
        except discord.LoginFailure as exc:
            await self.bot.close()
            raise SupportLoopError("Discord rejected SUPPORTLOOP_DISCORD_TOKEN (improper token).") from exc
        except (discord.HTTPException, OSError) as exc:
            await self.bot.close()
            raise SupportLoopError(f"Cannot reach Discord at {self.api_url}: {exc}.") from exc
        self._task = asyncio.create_task(self._stay_connected(), name="discord-gateway")
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not self.ready.is_set():
            ready.cancel()
            error = self._task.exception()
            await self.bot.close()
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise SupportLoopError(
                    "Discord refused the Message Content intent: enable it for the bot in the Developer "
                    "Portal (Bot → Privileged Gateway Intents)."
                ) from error
            raise SupportLoopError(f"The Discord gateway connection ended: {error}.") from error

    async def _stay_connected(self) -> None:
        """discord.py reconnects after network trouble itself; this also survives what it gives up on."""
        assert self.bot is not None
        while True:
            try:
                await self.bot.connect(reconnect=True)
                return
            except (discord.LoginFailure, discord.PrivilegedIntentsRequired):
                raise
            except Exception:
                if self.bot.is_closed() or not self.ready.is_set():
                    raise
                log.exception("the Discord gateway connection failed; reconnecting in %s s", RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)

    async def stop(self) -> None:
        """Let answers being written finish (up to ``DRAIN_S``), then disconnect."""
        late = await self.in_progress.drain(DRAIN_S)
        if late:
            log.warning("stopping with %d Discord answers still in progress", len(late))
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task

    # ----------------------------------------------------------------- messages and reactions

    async def on_message(self, message: discord.Message) -> None:
        bot = self.bot
        assert bot is not None and bot.user is not None
        channel = message.channel
        in_thread = isinstance(channel, discord.Thread)
        parent = str(channel.parent_id) if isinstance(channel, discord.Thread) else str(channel.id)
        incoming = IncomingMessage(
            Origin(PLATFORM, str(message.author.id), parent, str(channel.id) if in_thread else None),
            str(message.id),
            _without_mention(message.content, bot.user.id),
            is_dm=message.guild is None,
            mentions_bot=bot.user in message.mentions,
            from_bot=message.author.bot,
            in_thread=in_thread,
        )
        question = await self.service.call(self.service.question_in, incoming)
        if question is None:
            return
        target: discord.abc.Messageable = channel
        thread_id = incoming.origin.thread
        if message.guild is not None and not in_thread:
            thread = await message.create_thread(name=_thread_name(question))
            target, thread_id = thread, str(thread.id)
        origin = Origin(PLATFORM, str(message.author.id), parent, thread_id)
        reply, placeholder = await answer_with_placeholder(
            self.service.call(self.service.ask, question, origin),
            lambda: target.send(messages.PLACEHOLDER),
            self.placeholder_after_s,
        )
        await self._show(reply, target, placeholder)

    async def _show(
        self, reply: Reply, target: discord.abc.Messageable, placeholder: discord.Message | None = None
    ) -> None:
        """Post ``reply`` (editing ``placeholder`` into its first part); sources and buttons go last."""
        for number, (part, extras) in enumerate(reply_messages(reply)):
            if number == 0 and placeholder is not None:
                sent = await _edit(placeholder, part, extras)
            else:
                sent = await target.send(part, **extras)
            await self.service.call(self.service.posted, reply, PLATFORM, str(sent.channel.id), str(sent.id))

    async def on_reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> None:
        assert self.bot is not None and self.bot.user is not None
        if payload.user_id == self.bot.user.id:
            return
        origin = Origin(PLATFORM, str(payload.user_id), str(payload.channel_id))
        await self.service.call(
            self.service.react,
            origin,
            str(payload.channel_id),
            str(payload.message_id),
            str(payload.emoji),
            added,
        )

    async def on_vote(self, interaction: discord.Interaction, answer_id: int, vote: int) -> None:
        reply = await self.service.call(self.service.vote, answer_id, origin_of(interaction), vote)
        if vote < 0 and reply.kind != "error":
            await interaction.response.send_modal(ReasonModal(self, answer_id))
            return
        await interaction.response.send_message(reply.text, ephemeral=True, **buttons_for(reply))

    async def on_escalate(self, interaction: discord.Interaction, answer_id: int) -> None:
        """The "Ask a person" button: mention the role in the thread with the question and the answer,
        once per thread (a second press only hears, privately, that a person has been asked)."""
        role, channel = self.escalate_role, interaction.channel
        if role is None or not isinstance(channel, discord.abc.Messageable):
            await interaction.response.send_message(messages.ESCALATION_OFF, ephemeral=True)
            return
        origin = origin_of(interaction)
        handoff = await self.service.call(self.service.escalate, answer_id, origin, str(channel.id))
        if handoff.claim is None:
            await interaction.response.send_message(handoff.reply.text, ephemeral=True)
            return
        text = f"<@&{role}> {messages.PERSON_NEEDED}\n{handoff.reply.text}"
        try:
            await channel.send(
                text[:MESSAGE_LIMIT],
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, users=False, roles=[discord.Object(int(role))]
                ),
            )
        except discord.HTTPException as exc:
            log.error("could not ask for a person in Discord channel %s (%s)", channel.id, exc)
            failed = await self.service.call(self.service.withdraw, handoff.claim)
            await interaction.response.send_message(failed.text, ephemeral=True)
            return
        await interaction.response.defer()


def _guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    def parse_or_drop(data: Any) -> None:
        try:
            parse(data)
        except Exception:
            log.warning("dropped a malformed Discord %s event", event, exc_info=True)

    return parse_or_drop


async def _edit(message: discord.Message, content: str, extras: dict[str, Any]) -> discord.Message:
    """Edit ``message``, once more if the connection was closed under the request: a pooled keep-alive
    connection that Discord (or a proxy) has just closed fails this way before the request is read, and
    discord.py retries only reset connections. An edit sets the same content twice harmlessly; a new
    message is never resent, since it could appear twice."""
    try:
        return await message.edit(content=content, **extras)
    except aiohttp.ServerDisconnectedError:
        log.info("Discord closed the connection under a message edit; editing once more")
        return await message.edit(content=content, **extras)


def _without_mention(content: str, bot_id: int) -> str:
    return re.sub(rf"<@!?{bot_id}>", "", content).strip()


def _thread_name(question: str) -> str:
    name = " ".join(question.split()) or "Question"
    return name if len(name) <= THREAD_NAME_LIMIT else name[: THREAD_NAME_LIMIT - 1] + "…"
