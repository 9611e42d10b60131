"""Driving the Discord adapter through the local fake Discord: the bot as the tests start it, and waiting
for what it posts. Shared by the Discord tests (their fixtures are in ``tests/bots/conftest.py``)."""

from __future__ import annotations

from typing import Any

from fakes.discord_api import FakeDiscord

from bots.conversation import ConversationService
from bots.discord_bot import DiscordBot
from supportloop.app import SupportLoop

ADMIN, USER, HELPER, OTHER = "1001", "2002", "3003", "4004"


def adapter(
    service: ConversationService,
    fake: FakeDiscord,
    placeholder_after_s: float = 0.0,
    escalate_role: str | None = None,
) -> DiscordBot:
    """The bot against the fake; by default every answer counts as slow, so the placeholder shows."""
    return DiscordBot(
        service,
        token=fake.token,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        admin_role="supportloop-admin",
        placeholder_after_s=placeholder_after_s,
        escalate_role=escalate_role,
        guild_ready_timeout=0.02,
    )


def answered(fake: FakeDiscord, channel_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the bot has finished ``count`` answers (with buttons) in the channel; return them."""

    def finished() -> list[dict[str, Any]]:
        return [
            m
            for m in fake.channel_messages(channel_id)
            if m["author"]["id"] == fake.bot_user_id and m["components"]
        ]

    fake.wait_for(lambda: len(finished()) >= count, 10, f"{count} answers in {channel_id}")
    return finished()


def linked_answer(fake: FakeDiscord, loop: SupportLoop, message: dict[str, Any]) -> int:
    """The answer a bot message shows, once the adapter has linked it (just after posting it)."""

    def answer_id() -> int | None:
        return loop.records.answer_for_message("discord", message["channel_id"], message["id"])

    fake.wait_for(answer_id, 10, "the answer message linked to its answer")
    return answer_id()  # type: ignore[return-value]


def buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def ephemeral_text(fake: FakeDiscord, interaction_id: str) -> str:
    fake.wait_for(lambda: fake.interaction_responses(interaction_id), 10)
    [response] = fake.interaction_responses(interaction_id)
    assert response["data"]["flags"] & 64, response  # only the user who clicked sees it
    return response["data"]["content"]
