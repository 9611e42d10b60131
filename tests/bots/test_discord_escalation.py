"""On Discord, "Ask a person" and ``/supportloop gaps``, end to end: the real discord.py bot and service,
a real SQLite database and the local fake Discord.

With SUPPORTLOOP_DISCORD_ESCALATE_ROLE set, a decline and the thanks for a 👎's note carry "Ask a person";
pressing it mentions that role in the thread with the question and the answer, once per thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from discord_harness import ADMIN, OTHER, USER, adapter, answered, buttons, ephemeral_text, linked_answer
from fakes.discord_api import FakeDiscord
from helpers import PlatformThread, record_answer
from sqlalchemy import select

from bots import messages
from bots.custom_ids import escalate_id, vote_id
from core.settings import load_settings
from core.tables import EscalationRecord
from supportloop.app import SupportLoop

pytestmark = pytest.mark.slow  # needs the prepared index

ROLE = "5005"
BANANA = "What is a good recipe for banana bread?"  # nothing in the demo help pages: declined
REFUND = "How do I get a refund on an annual plan?"


@pytest.fixture
def person_loop(fresh_dir) -> Iterator[SupportLoop]:
    with SupportLoop(load_settings(discord_escalate_role=ROLE)) as loop:
        yield loop


@pytest.fixture
def person_bot(person_loop: SupportLoop, fake: FakeDiscord) -> Iterator[PlatformThread]:
    with PlatformThread(adapter(person_loop.conversations, fake, escalate_role=ROLE)) as running:
        yield running


def requests_for_a_person(fake: FakeDiscord, channel_id: str) -> list[dict[str, Any]]:
    return [m for m in fake.channel_messages(channel_id) if f"<@&{ROLE}>" in m["content"]]


def escalations(loop: SupportLoop) -> list[EscalationRecord]:
    with loop.db.session() as session:
        return list(session.scalars(select(EscalationRecord)))


def test_without_the_setting_a_decline_offers_no_person(fresh_dir, fake):
    with SupportLoop(load_settings()) as loop, PlatformThread(adapter(loop.conversations, fake)):
        asked = fake.user_message(USER, BANANA, mention_bot=True)
        [declined] = answered(fake, asked["id"])
        answer_id = linked_answer(fake, loop, declined)
    assert buttons(declined) == [vote_id(answer_id, 1), vote_id(answer_id, -1)]


def test_asking_a_person_mentions_the_role_in_the_thread_once(person_bot, fake, person_loop):
    asked = fake.user_message(USER, BANANA, mention_bot=True)
    thread_id = asked["id"]
    [declined] = answered(fake, thread_id)
    answer_id = linked_answer(fake, person_loop, declined)
    assert buttons(declined) == [vote_id(answer_id, 1), vote_id(answer_id, -1), escalate_id(answer_id)]

    fake.click_button(USER, declined, escalate_id(answer_id))
    fake.wait_for(lambda: requests_for_a_person(fake, thread_id), 10, "the request for a person")
    [request] = requests_for_a_person(fake, thread_id)
    assert request["content"].startswith(f"<@&{ROLE}> {messages.PERSON_NEEDED}")
    assert f"**Question:** {BANANA}" in request["content"]  # Discord's bold
    assert request["mention_roles"] == [ROLE]
    [post] = [c for c in fake.calls_to("POST", f"/channels/{thread_id}/messages") if ROLE in str(c.json)]
    allowed = post.json["allowed_mentions"]  # the role only: no @everyone or user pings from the text
    assert [str(role) for role in allowed["roles"]] == [ROLE] and not allowed.get("users")
    assert not post.json["allowed_mentions"]["parse"]

    for user in (USER, OTHER):  # pressed again, by the asker and by someone else in the thread
        again = fake.click_button(user, declined, escalate_id(answer_id))
        assert ephemeral_text(fake, again) == messages.ESCALATED_ALREADY
    assert len(requests_for_a_person(fake, thread_id)) == 1
    [row] = escalations(person_loop)
    assert (row.answer_id, row.platform, row.thread, row.status) == (answer_id, "discord", thread_id, "open")


def test_the_thanks_for_a_thumbs_down_note_offers_a_person(person_bot, fake, person_loop):
    asked = fake.user_message(USER, REFUND, mention_bot=True)
    thread_id = asked["id"]
    [answer] = answered(fake, thread_id)
    answer_id = linked_answer(fake, person_loop, answer)
    assert escalate_id(answer_id) not in buttons(answer)  # an answer offers no person until a 👎

    down = fake.click_button(USER, answer, vote_id(answer_id, -1))
    fake.wait_for(lambda: fake.interaction_responses(down), 10)
    noted = fake.submit_modal(USER, f"supportloop:reason:{answer_id}", {"reason": ""})
    assert ephemeral_text(fake, noted) == messages.REASON_THANKS
    [thanks] = [m for m in fake.messages.values() if m["content"] == messages.REASON_THANKS]
    assert buttons(thanks) == [escalate_id(answer_id)]

    fake.click_button(USER, thanks, escalate_id(answer_id))
    fake.wait_for(lambda: requests_for_a_person(fake, thread_id), 10, "the request for a person")
    assert REFUND in requests_for_a_person(fake, thread_id)[0]["content"]
    assert len(escalations(person_loop)) == 1


def followed_up(fake: FakeDiscord, interaction_id: str) -> dict[str, Any]:
    """The private reply that fills in a deferred (``thinking``) response."""
    fake.wait_for(
        lambda: any(r["kind"] == "followup" for r in fake.interaction_responses(interaction_id)), 30
    )
    [deferred, followup] = fake.interaction_responses(interaction_id)
    assert deferred["type"] == 5 and deferred["data"]["flags"] & 64  # only the admin sees it
    return followup["data"]


def test_gaps_command_shows_clusters_to_admins_in_discord_markdown(person_bot, fake, person_loop):
    for question in [
        "How do I turn on dark mode?",
        "Is there a dark theme?",
        "Do you have an office in Berlin?",
    ]:
        record_answer(person_loop.records, question=question, answer="I can't find that.", declined=True)
    refused = followed_up(fake, fake.slash_command(USER, "supportloop", "gaps"))
    assert refused["content"] == messages.ADMIN_ONLY.format(command="gaps")

    shown = followed_up(fake, fake.slash_command(ADMIN, "supportloop", "gaps"))["content"]
    assert shown.startswith("**Knowledge gaps**")
    assert "1. **2 questions**, 2 declined:" in shown and "dark" in shown
    assert "2. **1 questions**, 1 declined: “Do you have an office in Berlin?”" in shown
    assert "](http" in shown  # the closest page as a Markdown link
    assert "<http" not in shown and "|" not in shown and "&lt;" not in shown  # nothing of Slack's mrkdwn
