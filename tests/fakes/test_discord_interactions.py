"""Slash commands, buttons and modals through the fake Discord work with a real discord.py bot.

Interactions are where discord.py is strictest: a response must come in time and in the right order
(callback, follow-ups, edits), persistent views must still answer after a restart, and who may run a
command depends on roles and permissions. These tests hold the fake to Discord's behaviour there, so the
adapter's admin commands, votes and feedback forms can be tested end to end against it.
"""

from __future__ import annotations

import pytest

from fakes.discord_api import BotThread, FakeDiscord
from fakes.discord_probe_bot import (
    ADMIN,
    CLOSE,
    FEEDBACK,
    FEEDBACK_TEXT,
    HELPER,
    USER,
    VOTE_UP,
    SupportBot,
)
from fakes.discord_testing import fake_discord, first, post_with_buttons


def test_slash_command_permissions_and_ephemeral_reply(
    fake: FakeDiscord, bot: tuple[SupportBot, BotThread]
) -> None:
    replies = {}
    for user in (ADMIN, USER, HELPER):
        interaction_id = fake.slash_command(user, "supportloop", "status")
        fake.wait_for(lambda iid=interaction_id: fake.interaction_responses(iid))
        [response] = fake.interaction_responses(interaction_id)
        assert response["kind"] == "callback" and response["type"] == 4
        assert response["data"]["flags"] & 64  # ephemeral
        replies[user] = response["data"]["content"]
    assert replies == {
        ADMIN: "admin=True roles=Administrator",
        USER: "admin=False roles=",
        HELPER: "admin=False roles=supportloop-admin",
    }
    # Ephemeral replies are stored but nobody else sees them in the channel.
    assert not [m for m in fake.channel_messages(fake.channel_id) if m["author"]["id"] == fake.bot_user_id]

    with pytest.raises(LookupError):
        fake.slash_command(USER, "unsynced")
    with pytest.raises(ValueError):
        fake.slash_command(USER, "supportloop", "nope")
    with pytest.raises(ValueError):
        fake.slash_command(USER, "supportloop", "ask")  # the required option is missing


def test_defer_followup_and_edit_original(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    interaction_id = fake.slash_command(USER, "supportloop", "ask", {"question": "Where is my order?"})
    fake.wait_for(lambda: len(fake.interaction_responses(interaction_id)) == 3)
    responses = fake.interaction_responses(interaction_id)
    assert [(r["kind"], r["type"]) for r in responses] == [
        ("callback", 5),
        ("followup", None),
        ("edit", None),
    ]
    assert responses[2]["message_id"] == "@original"
    # The first follow-up after a "thinking" defer fills in that message; the edit then replaces it.
    [answer] = [m for m in fake.channel_messages(fake.channel_id) if "interaction_metadata" in m]
    assert answer["content"] == "Answer to: Where is my order?" and answer["flags"] == 0
    assert answer["interaction_metadata"]["user"]["id"] == USER


def test_interaction_expires_without_a_timely_response(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_discord(monkeypatch, response_deadline=0.1) as fake:
        slow_bot = SupportBot(fake)
        with BotThread(slow_bot, fake.token):
            fake.slash_command(USER, "supportloop", "slow")
            expired = first(fake, slow_bot, "expired")
            assert expired.code == 10062  # Unknown interaction: defer() first when answering takes long


def test_persistent_button_works_after_restart(fake: FakeDiscord) -> None:
    first_bot = SupportBot(fake)
    with BotThread(first_bot, fake.token) as runner:
        panel = post_with_buttons(fake, first_bot, runner, "Was this helpful?")
        clicked = fake.click_button(USER, str(panel.id), VOTE_UP)
        assert first(fake, first_bot, "vote").message.id == panel.id
        fake.wait_for(lambda: fake.interaction_responses(clicked))

    restarted = SupportBot(fake)  # re-adds the persistent view in setup_hook
    with BotThread(restarted, fake.token):
        clicked = fake.click_button(ADMIN, fake.messages[str(panel.id)], VOTE_UP)
        vote = first(fake, restarted, "vote")
        assert vote.message.id == panel.id and vote.user.id == int(ADMIN)
        fake.wait_for(lambda: fake.interaction_responses(clicked))
        [response] = fake.interaction_responses(clicked)
        assert response["data"]["content"] == "Thanks for the vote!" and response["data"]["flags"] & 64
    assert fake.gateway_connections == 2
    with pytest.raises(ValueError):
        fake.click_button(USER, str(panel.id), "supportloop:vote:down:42")  # no such button on the message


def test_button_updates_its_message(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, runner = bot
    ticket = post_with_buttons(fake, support_bot, runner, "Ticket #42")
    clicked = fake.click_button(USER, str(ticket.id), CLOSE)
    assert (
        first(fake, support_bot, "closed") == "Ticket closed."
    )  # original_response() is the clicked message
    kinds = [(r["kind"], r["type"]) for r in fake.interaction_responses(clicked)]
    assert kinds == [("callback", 7), ("followup", None), ("delete", None)]
    stored = fake.messages[str(ticket.id)]
    assert stored["content"] == "Ticket closed." and stored["components"] == []
    assert [m["id"] for m in fake.channel_messages(fake.channel_id)] == [
        str(ticket.id)
    ]  # the note was ephemeral


def test_modal_is_shown_and_submitted(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, _ = bot
    opened = fake.slash_command(USER, "supportloop", "feedback")
    fake.wait_for(lambda: fake.interaction_responses(opened))
    [shown] = fake.interaction_responses(opened)
    assert shown["type"] == 9 and shown["data"]["custom_id"] == FEEDBACK

    with pytest.raises(ValueError):
        fake.submit_modal(ADMIN, FEEDBACK, {FEEDBACK_TEXT: "x"})  # the admin was never shown it
    with pytest.raises(ValueError):
        fake.submit_modal(USER, FEEDBACK, {"unknown": "x"})
    submitted = fake.submit_modal(USER, FEEDBACK, {FEEDBACK_TEXT: "The answer was outdated"})
    assert first(fake, support_bot, "modal") == "The answer was outdated"
    fake.wait_for(lambda: fake.interaction_responses(submitted))
    assert fake.interaction_responses(submitted)[0]["data"]["content"] == "Noted, thank you."
