"""Discord's message parts: a reply as messages with the sources embed, the 👍/👎 and "Ask a person"
buttons, and the "what was wrong?" modal.

The buttons are dynamic items: discord.py rebuilds them from their custom ids (which carry the answer
id), so they keep working after a restart. Their clicks go to the adapter (``ButtonTarget``).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bots import messages
from bots.custom_ids import (
    ESCALATE_ID,
    VOTE_ID,
    escalate_id,
    parse_escalate_id,
    parse_vote_id,
    reason_id,
    vote_id,
)
from bots.formatting import for_chat, split_text
from bots.replies import Origin, Reply, Source

if TYPE_CHECKING:
    from bots.discord_bot import DiscordBot
    from bots.platform import InProgress

log = logging.getLogger(__name__)

PLATFORM = "discord"
MESSAGE_LIMIT = 2000
COLOURS = {"answer": 0x2EB67D, "declined": 0xECB22E, "error": 0xE01E5A, "notice": 0x5865F2}


class ButtonTarget(Protocol):
    """What a button click reaches: the adapter, found as ``interaction.client.adapter``. Each click is
    handled ``in_progress``, so stopping the bot lets a vote being stored finish and be acknowledged."""

    in_progress: InProgress

    async def on_vote(self, interaction: discord.Interaction, answer_id: int, vote: int) -> None: ...

    async def on_escalate(self, interaction: discord.Interaction, answer_id: int) -> None: ...


def origin_of(interaction: discord.Interaction) -> Origin:
    """Who clicked or ran a command, and in which channel (a thread's parent, as answers record it)."""
    channel = interaction.channel
    parent = (
        getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else interaction.channel_id
    )
    return Origin(PLATFORM, str(interaction.user.id), str(parent) if parent else None)


def _target(interaction: discord.Interaction) -> ButtonTarget:
    target: ButtonTarget = interaction.client.adapter  # type: ignore[attr-defined]
    return target


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
        if self.answer_id is None:
            log.info("a Discord vote button named no storable answer")
            await interaction.response.send_message(messages.VOTE_GONE, ephemeral=True)
            return
        target = _target(interaction)
        with target.in_progress.working():
            await target.on_vote(interaction, self.answer_id, self.vote)


class EscalateButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=ESCALATE_ID,
):
    """The "Ask a person" button under a decline or a 👎's thanks."""

    def __init__(self, answer_id: int | None, custom_id: str | None = None) -> None:
        """``answer_id`` None: the clicked id names no answer we could have stored (see ``VoteButton``)."""
        super().__init__(
            discord.ui.Button(
                label=messages.ASK_PERSON,
                style=discord.ButtonStyle.primary,
                custom_id=custom_id or escalate_id(answer_id or 0),
            )
        )
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> EscalateButton:
        return cls(parse_escalate_id(match.string), custom_id=match.string)

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.answer_id is None:
            await interaction.response.send_message(messages.VOTE_GONE, ephemeral=True)
            return
        target = _target(interaction)
        with target.in_progress.working():
            await target.on_escalate(interaction, self.answer_id)


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
        service = self.adapter.service
        with self.adapter.in_progress.working():
            reason = self.reason.value or ""
            reply = await service.call(service.give_reason, self.answer_id, origin_of(interaction), reason)
            await interaction.response.send_message(reply.text, ephemeral=True, **buttons_for(reply))


def reply_messages(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """The reply as Discord messages: text parts of at most 2000 characters, the last one carrying the
    sources embed and the vote buttons (built here, on the bot's event loop, as discord.py needs)."""
    text, sources = for_chat(reply)
    parts = split_text(text, MESSAGE_LIMIT)
    last = {"embed": _sources_embed(reply, sources)} | buttons_for(reply)
    last = {key: value for key, value in last.items() if value is not None}
    return [(part, last if number == len(parts) - 1 else {}) for number, part in enumerate(parts)]


def _sources_embed(reply: Reply, sources: tuple[Source, ...]) -> discord.Embed | None:
    if not sources:
        return None
    lines = [f"{n}. [{source.title}]({source.url})" for n, source in enumerate(sources, start=1)]
    return discord.Embed(
        title=messages.SOURCES, description="\n".join(lines)[:4096], colour=COLOURS[reply.kind]
    )


def buttons_for(reply: Reply) -> dict[str, Any]:
    """The buttons under ``reply``: 👍/👎 when it can be voted on, "Ask a person" when the service
    offers one; none for notices (built on the bot's event loop, as discord.py needs)."""
    view = discord.ui.View(timeout=None)
    if reply.answer_id is not None:
        view.add_item(VoteButton(reply.answer_id, 1))
        view.add_item(VoteButton(reply.answer_id, -1))
    if reply.escalation is not None:
        view.add_item(EscalateButton(reply.escalation))
    return {"view": view} if view.children else {}
