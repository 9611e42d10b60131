"""The small bot that the fake Discord's own tests drive: what the SupportLoop adapter uses of discord.py.

It asks for the adapter's intents and registers what the adapter registers (a persistent view with vote
and close buttons, a feedback modal, a ``/supportloop`` command group), and it records every event
discord.py hands it, so the ``test_discord_*`` modules can check both what discord.py made of the fake's
traffic and what the fake recorded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from fakes.discord_api import FakeDiscord

ADMIN, USER, HELPER = "1001", "2002", "3003"
VOTE_UP, CLOSE = "supportloop:vote:up:42", "supportloop:close:42"
FEEDBACK, FEEDBACK_TEXT = "supportloop:feedback", "supportloop:feedback:text"


def intents(**overrides: bool) -> discord.Intents:
    """What the SupportLoop bot asks for: no members or presences, but message content."""
    chosen = discord.Intents.none()
    for name in (
        "guilds",
        "guild_messages",
        "dm_messages",
        "guild_reactions",
        "dm_reactions",
        "message_content",
    ):
        setattr(chosen, name, True)
    for name, value in overrides.items():
        setattr(chosen, name, value)
    return chosen


class VoteView(discord.ui.View):
    """A persistent view: no timeout and a fixed custom id, so clicks work after a restart."""

    def __init__(self, seen: list[tuple[str, Any]]) -> None:
        super().__init__(timeout=None)
        self.seen = seen

    @discord.ui.button(label="Helpful", style=discord.ButtonStyle.success, custom_id=VOTE_UP)
    async def up(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.seen.append(("vote", interaction))
        await interaction.response.send_message("Thanks for the vote!", ephemeral=True)

    @discord.ui.button(label="Close", style=discord.ButtonStyle.secondary, custom_id=CLOSE)
    async def close(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="Ticket closed.", view=None)
        note = await interaction.followup.send("Only you see this.", ephemeral=True, wait=True)
        original = await interaction.original_response()
        await note.delete()
        self.seen.append(("closed", original.content))


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput = discord.ui.TextInput(label="What went wrong?", custom_id=FEEDBACK_TEXT)

    def __init__(self, seen: list[tuple[str, Any]]) -> None:
        super().__init__(custom_id=FEEDBACK)
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen.append(("modal", self.text.value))
        await interaction.response.send_message("Noted, thank you.", ephemeral=True)


def supportloop_commands(seen: list[tuple[str, Any]]) -> app_commands.Group:
    group = app_commands.Group(name="supportloop", description="SupportLoop")

    @group.command(description="Who am I to the bot")
    async def status(interaction: discord.Interaction) -> None:
        roles = ",".join(role.name for role in interaction.user.roles[1:])  # type: ignore[union-attr]
        admin = interaction.permissions.administrator
        await interaction.response.send_message(f"admin={admin} roles={roles}", ephemeral=True)

    @group.command(description="Ask a question")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"Looking into: {question}")
        await interaction.edit_original_response(content=f"Answer to: {question}")

    @group.command(description="Tell us what went wrong")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal(seen))

    @group.command(description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        try:
            await interaction.response.send_message("finally")
        except discord.NotFound as exc:
            seen.append(("expired", exc))

    return group


class SupportBot(commands.Bot):
    """A small bot that records what discord.py hands it, the way the SupportLoop adapter will be wired."""

    def __init__(self, fake: FakeDiscord, **intent_overrides: bool) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(**intent_overrides),
            guild_ready_timeout=0.02,
        )
        self.guild_ref = discord.Object(id=int(fake.guild_id))
        self.seen: list[tuple[str, Any]] = []  # appended on the bot's loop, read by the test
        # Guild commands must be added for that guild: a global command is not in sync(guild=...).
        self.tree.add_command(supportloop_commands(self.seen), guild=self.guild_ref)

    async def setup_hook(self) -> None:
        self.add_view(VoteView(self.seen))
        await self.tree.sync(guild=self.guild_ref)

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(("message", message))

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.seen.append(("reaction_add", payload))

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.seen.append(("reaction_remove", payload))

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.seen.append(("thread_create", thread))

    def events(self, kind: str) -> list[Any]:
        return [item for name, item in list(self.seen) if name == kind]
