"""``/supportloop`` on Discord: the slash-command group, who counts as an admin, and how replies go out.

Kept apart from the event adapter (``bots.discord_bot``) because commands arrive as interactions, with
their own 3-second deadline, deferral and follow-up messages; the conversation service decides what each
command does and says, exactly as for Slack and the CLI.

Admin-only commands need the Administrator permission in the channel, or the role
``SUPPORTLOOP_DISCORD_ADMIN_ROLE`` names (by name or id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bots import messages
from bots.conversation import ConversationService
from bots.discord_views import MESSAGE_LIMIT, PLATFORM, origin_of, reply_messages
from bots.platform import InProgress
from bots.replies import Reply
from bots.user_input import Command

log = logging.getLogger(__name__)
JOB_COMMANDS = {
    "reindex": "Crawl the help pages again (admins)",
    "retrain": "Train on the feedback (admins)",
    "audit": "Audit the reward model (admins)",
}


class SlashCommands:
    """The ``/supportloop`` group of one bot, answering through ``service``."""

    def __init__(
        self, service: ConversationService, in_progress: InProgress, admin_role: str | None = None
    ) -> None:
        """``in_progress``: the adapter's, so stopping the bot lets a command being answered finish."""
        self.service = service
        self.in_progress = in_progress
        self.admin_role = admin_role

    def group(self) -> app_commands.Group:
        group = app_commands.Group(name="supportloop", description="SupportLoop: answers from the help pages")
        run = self.run

        @group.command(name="ask")
        @app_commands.describe(question="Your question about the help pages")
        async def ask(interaction: discord.Interaction, question: str) -> None:
            """Answer a question from the help pages."""
            await run(interaction, Command("ask", question))

        @group.command(name="status")
        async def status(interaction: discord.Interaction) -> None:
            """Model version and index size (admins: also jobs and feedback)."""
            await run(interaction, Command("status"))

        @group.command(name="gaps")
        async def gaps(interaction: discord.Interaction) -> None:
            """The questions the help pages don't answer, grouped (admins)."""
            await run(interaction, Command("gaps"))

        for kind, description in JOB_COMMANDS.items():
            group.add_command(
                app_commands.Command(name=kind, description=description, callback=self._job(kind))
            )

        @group.command(name="rollback")
        @app_commands.describe(version="The model version to serve")
        async def rollback(interaction: discord.Interaction, version: int) -> None:
            """Serve an earlier model version (admins)."""
            await run(interaction, Command("rollback", str(version)))

        return group

    def _job(self, kind: str) -> Callable[[discord.Interaction], Awaitable[None]]:
        async def start_job(interaction: discord.Interaction) -> None:
            await self.run(interaction, Command(kind))

        return start_job

    async def run(self, interaction: discord.Interaction, command: Command) -> None:
        with self.in_progress.working():
            await self._run(interaction, command)

    async def _run(self, interaction: discord.Interaction, command: Command) -> None:
        service = self.service
        # answering, and grouping questions, can take longer than the 3 s Discord waits for a response
        if command.name in ("ask", "gaps"):
            await interaction.response.defer(thinking=True, ephemeral=command.name == "gaps")
        channel = interaction.channel
        loop = asyncio.get_running_loop()

        def post(line: str) -> None:  # called from the job worker's thread
            if isinstance(channel, discord.abc.Messageable):
                asyncio.run_coroutine_threadsafe(channel.send(line[:MESSAGE_LIMIT]), loop)

        # status shows admins more, so it asks too
        admin = (service.needs_admin(command) or command.name == "status") and self._is_admin(interaction)
        origin = origin_of(interaction)
        reply = await service.call(service.command, command, origin, is_admin=admin, post=post)
        if interaction.response.is_done():
            await self._follow_up(interaction, reply)
        elif reply.private:
            await interaction.response.send_message(reply.text[:MESSAGE_LIMIT], ephemeral=True)
        else:
            await interaction.response.send_message(reply.text[:MESSAGE_LIMIT])

    async def _follow_up(self, interaction: discord.Interaction, reply: Reply) -> None:
        for part, extras in reply_messages(reply):
            sent = await interaction.followup.send(part, wait=True, **extras)
            await self.service.call(self.service.posted, reply, PLATFORM, str(sent.channel.id), str(sent.id))

    def _is_admin(self, interaction: discord.Interaction) -> bool:
        if interaction.permissions.administrator:
            return True
        roles = getattr(interaction.user, "roles", [])
        wanted = self.admin_role
        return bool(wanted) and any(wanted in (role.name, str(role.id)) for role in roles)

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("/supportloop failed", exc_info=error)
        send = (
            interaction.followup.send if interaction.response.is_done() else interaction.response.send_message
        )
        with contextlib.suppress(discord.HTTPException):
            await send(messages.INTERNAL_ERROR, ephemeral=True)
