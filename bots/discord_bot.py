"""The Discord adapter: discord.py events in, ``ConversationService`` calls, Discord messages out.

What it does on Discord:
- a mention in a channel opens a thread on the question and answers there; a DM is answered in the DM;
  later messages in that thread are answered without a mention;
- an answer slower than ~2 s gets the placeholder ("Looking through the help pages…") first, which is
  then edited into the answer;
- sources go in an embed, 👍/👎 are persistent buttons (their custom ids carry the answer id, so they
  work after a restart) and 👍/👎 reactions count too; 👎 opens an optional "what was wrong?" modal;
- ``/supportloop ask|status|reindex|retrain|audit|rollback``; admin-only ones need the Administrator
  permission in the channel or the configured admin role.

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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bots import messages
from bots.conversation import (
    VOTE_ID,
    Command,
    ConversationService,
    IncomingMessage,
    Origin,
    Reply,
    Source,
    parse_vote_id,
    reason_id,
    vote_id,
)
from bots.formatting import for_chat, split_text
from bots.platform import PLACEHOLDER_AFTER_S, answer_with_placeholder
from core.errors import SupportLoopError

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "discord"
MESSAGE_LIMIT = 2000
RECONNECT_S = 5
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
JOB_COMMANDS = {
    "reindex": "Crawl the help pages again (admins)",
    "retrain": "Train on the feedback (admins)",
    "audit": "Audit the reward model (admins)",
}
# The bot never joins voice channels: no warnings about the voice libraries it does not need.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
COLOURS = {"answer": 0x2EB67D, "declined": 0xECB22E, "error": 0xE01E5A, "notice": 0x5865F2}


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


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=VOTE_ID,
):
    """👍/👎 under an answer; discord.py rebuilds it from the custom id, so it outlives the process."""

    def __init__(self, answer_id: int | None, vote: int, custom_id: str | None = None) -> None:
        """``answer_id`` None: a click on a button whose id names no answer we could have stored
        (``custom_id`` is then the id as clicked); it is told that the answer is gone."""
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote > 0 else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id or vote_id(answer_id or 0, vote),
            )
        )
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> VoteButton:
        parsed = parse_vote_id(match.string)
        if parsed is None:
            return cls(None, 1 if match["vote"] == "up" else -1, custom_id=match.string)
        return cls(*parsed)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        assert isinstance(bot, SupportLoopBot)
        if self.answer_id is None:
            log.info("a Discord vote button named no storable answer")
            await interaction.response.send_message(messages.VOTE_GONE, ephemeral=True)
            return
        await bot.adapter.on_vote(interaction, self.answer_id, self.vote)


class ReasonModal(discord.ui.Modal):
    """The optional "what was wrong?" note after a 👎."""

    reason: discord.ui.TextInput[ReasonModal] = discord.ui.TextInput(
        label=messages.REASON_PROMPT[:45],
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=1000,
        custom_id="reason",
    )

    def __init__(self, adapter: DiscordBot, answer_id: int) -> None:
        super().__init__(title=messages.REASON_TITLE, custom_id=reason_id(answer_id), timeout=None)
        self.adapter = adapter
        self.answer_id = answer_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        reply = await self.adapter.service.call(
            self.adapter.service.give_reason, self.answer_id, _origin(interaction), self.reason.value or ""
        )
        await interaction.response.send_message(reply.text, ephemeral=True)


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
        self.add_dynamic_items(VoteButton)
        self.tree.add_command(self.adapter.command_group())
        self.tree.on_error = self.adapter.on_app_command_error
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.adapter.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
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
        placeholder_after_s: float = PLACEHOLDER_AFTER_S,
        **bot_options: Any,
    ) -> None:
        self.service = service
        self.token = token
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.admin_role = admin_role
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
        for number, (part, extras) in enumerate(_messages(reply)):
            if number == 0 and placeholder is not None:
                sent = await placeholder.edit(content=part, **extras)
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
        reply = await self.service.call(self.service.vote, answer_id, _origin(interaction), vote)
        if vote < 0 and reply.kind != "error":
            await interaction.response.send_modal(ReasonModal(self, answer_id))
            return
        await interaction.response.send_message(reply.text, ephemeral=True)

    # ----------------------------------------------------------------- /supportloop

    def command_group(self) -> app_commands.Group:
        group = app_commands.Group(name="supportloop", description="SupportLoop: answers from the help pages")
        adapter = self

        @group.command(name="ask")
        @app_commands.describe(question="Your question about the help pages")
        async def ask(interaction: discord.Interaction, question: str) -> None:
            """Answer a question from the help pages."""
            await adapter.run_command(interaction, Command("ask", question))

        @group.command(name="status")
        async def status(interaction: discord.Interaction) -> None:
            """Model version and index size (admins: also jobs and feedback)."""
            await adapter.run_command(interaction, Command("status"))

        for kind, description in JOB_COMMANDS.items():
            group.add_command(
                app_commands.Command(name=kind, description=description, callback=self._job(kind))
            )

        @group.command(name="rollback")
        @app_commands.describe(version="The model version to serve")
        async def rollback(interaction: discord.Interaction, version: int) -> None:
            """Serve an earlier model version (admins)."""
            await adapter.run_command(interaction, Command("rollback", str(version)))

        return group

    def _job(self, kind: str) -> Callable[[discord.Interaction], Awaitable[None]]:
        async def start_job(interaction: discord.Interaction) -> None:
            await self.run_command(interaction, Command(kind))

        return start_job

    async def run_command(self, interaction: discord.Interaction, command: Command) -> None:
        service = self.service
        if command.name == "ask":  # answering takes longer than the 3 s Discord waits for a response
            await interaction.response.defer(thinking=True)
        channel = interaction.channel
        loop = asyncio.get_running_loop()

        def post(line: str) -> None:  # called from the job worker's thread
            if isinstance(channel, discord.abc.Messageable):
                asyncio.run_coroutine_threadsafe(channel.send(line[:MESSAGE_LIMIT]), loop)

        # status shows admins more, so it asks too
        admin = (service.needs_admin(command) or command.name == "status") and self._is_admin(interaction)
        origin = _origin(interaction)
        reply = await service.call(service.command, command, origin, is_admin=admin, post=post)
        if interaction.response.is_done():
            await self._follow_up(interaction, reply)
        elif reply.private:
            await interaction.response.send_message(reply.text[:MESSAGE_LIMIT], ephemeral=True)
        else:
            await interaction.response.send_message(reply.text[:MESSAGE_LIMIT])

    async def _follow_up(self, interaction: discord.Interaction, reply: Reply) -> None:
        for part, extras in _messages(reply):
            sent = await interaction.followup.send(part, wait=True, **extras)
            await self.service.call(self.service.posted, reply, PLATFORM, str(sent.channel.id), str(sent.id))

    def _is_admin(self, interaction: discord.Interaction) -> bool:
        if interaction.permissions.administrator:
            return True
        roles = getattr(interaction.user, "roles", [])
        wanted = self.admin_role
        return bool(wanted) and any(wanted in (role.name, str(role.id)) for role in roles)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("/supportloop failed", exc_info=error)
        send = (
            interaction.followup.send if interaction.response.is_done() else interaction.response.send_message
        )
        with contextlib.suppress(discord.HTTPException):
            await send(messages.INTERNAL_ERROR, ephemeral=True)


def _guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    def parse_or_drop(data: Any) -> None:
        try:
            parse(data)
        except Exception:
            log.warning("dropped a malformed Discord %s event", event, exc_info=True)

    return parse_or_drop


def _origin(interaction: discord.Interaction) -> Origin:
    channel = interaction.channel
    parent = (
        getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else interaction.channel_id
    )
    return Origin(PLATFORM, str(interaction.user.id), str(parent) if parent else None)


def _without_mention(content: str, bot_id: int) -> str:
    return re.sub(rf"<@!?{bot_id}>", "", content).strip()


def _thread_name(question: str) -> str:
    name = " ".join(question.split()) or "Question"
    return name if len(name) <= THREAD_NAME_LIMIT else name[: THREAD_NAME_LIMIT - 1] + "…"


def _messages(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """The reply as Discord messages: text parts of at most 2000 characters, the last one carrying the
    sources embed and the vote buttons (built here, on the bot's event loop, as discord.py needs)."""
    text, sources = for_chat(reply)
    parts = split_text(text, MESSAGE_LIMIT)
    last = {"embed": _sources_embed(reply, sources), "view": _vote_view(reply)}
    last = {key: value for key, value in last.items() if value is not None}
    return [(part, last if number == len(parts) - 1 else {}) for number, part in enumerate(parts)]


def _sources_embed(reply: Reply, sources: tuple[Source, ...]) -> discord.Embed | None:
    if not sources:
        return None
    lines = [f"{n}. [{source.title}]({source.url})" for n, source in enumerate(sources, start=1)]
    return discord.Embed(
        title=messages.SOURCES, description="\n".join(lines)[:4096], colour=COLOURS[reply.kind]
    )


def _vote_view(reply: Reply) -> discord.ui.View | None:
    if reply.answer_id is None:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(reply.answer_id, 1))
    view.add_item(VoteButton(reply.answer_id, -1))
    return view
