"""On Slack, "Ask a person" and ``/supportloop gaps``, end to end: the real service and Bolt app, a real
SQLite database and the local fake Slack.

A decline (and the thanks for a 👎, by button or by reaction) offers "Ask a person" only when
SUPPORTLOOP_SLACK_ESCALATE names someone; pressing it mentions the user group in the thread with the
question and the answer, once per thread, however often the button is pressed or Slack delivers the click.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.slack_api import FakeSlack
from helpers import record_answer
from slack_harness import (
    SECRET,
    Harness,
    action_blocks,
    click,
    feedback,
    mention,
    press,
    reaction,
    running,
    wait_for,
)

from bots import messages
from bots.custom_ids import escalate_id, vote_id
from core.settings import load_settings
from core.tables import AnswerRecord, EscalationRecord
from supportloop.app import SupportLoop

BANANA = "What is a good recipe for banana bread?"  # nothing in the demo help pages: declined
REFUND = "How do I get a refund on an annual plan?"
GROUP = "<!subteam^S0TEAM>"


@pytest.fixture
def person_app(fresh_dir) -> Iterator[SupportLoop]:
    with SupportLoop(load_settings(slack_escalate="S0TEAM")) as loop:
        yield loop


@pytest.fixture
def person_bot(person_app: SupportLoop, slack: FakeSlack) -> Iterator[Harness]:
    with running(person_app.conversations, slack, person_app, escalate="S0TEAM") as harness:
        yield harness


def buttons(message: dict[str, Any]) -> list[str]:
    return [element["action_id"] for block in action_blocks(message) for element in block["elements"]]


def requests_for_a_person(slack: FakeSlack) -> list[dict[str, Any]]:
    return [p for p in slack.calls_to("chat.postMessage") if GROUP in (p.get("text") or "")]


def ask(bot: Harness, text: str) -> tuple[dict[str, Any], dict[str, Any], AnswerRecord]:
    """Mention the bot with ``text``: the question's event, the answer as Slack shows it, its stored row."""
    question = mention(text)
    bot.event(question)
    [answer] = bot.answered()
    [record] = bot.rows(AnswerRecord)
    return question, answer, record


def test_a_decline_offers_a_person_only_when_someone_is_set_to_answer(bot: Harness) -> None:
    _, declined, record = ask(bot, BANANA)
    assert record.declined
    assert buttons(declined) == [vote_id(record.id, 1), vote_id(record.id, -1)]  # no "Ask a person"


def test_asking_a_person_mentions_the_group_in_the_thread_once_however_often_it_arrives(
    person_bot: Harness,
) -> None:
    bot = person_bot
    question, declined, record = ask(bot, BANANA)
    assert buttons(declined) == [vote_id(record.id, 1), vote_id(record.id, -1), escalate_id(record.id)]
    [person] = [
        e for b in action_blocks(declined) for e in b["elements"] if e["action_id"] == escalate_id(record.id)
    ]
    assert person["text"]["text"] == messages.ASK_PERSON

    pressed = press(declined, escalate_id(record.id))
    assert bot.interact(pressed) == 200
    [request] = wait_for(lambda: requests_for_a_person(bot.slack))
    assert request["channel"] == "C1" and request["thread_ts"] == question["ts"]  # in the user's thread
    assert request["text"].startswith(f"{GROUP} a person is needed here.")
    assert f"*Question:* {BANANA}" in request["text"] and record.answer.split("\n")[0][:40] in request["text"]

    # Slack delivers the same click again (its retry headers), then the user and a colleague press again.
    assert bot.slack.post_interaction(bot.url, pressed, signing_secret=SECRET, retry_num=1)[0] == 200
    assert bot.interact(pressed) == 200
    assert bot.interact(press(declined, escalate_id(record.id), user="UOTHER")) == 200
    wait_for(lambda: len(bot.slack.ephemerals) == 3)
    bot.settle()
    assert len(requests_for_a_person(bot.slack)) == 1
    assert [e["text"] for e in bot.slack.ephemerals] == [messages.ESCALATED_ALREADY] * 3
    assert {e["user"] for e in bot.slack.ephemerals} == {"UPLAIN", "UOTHER"}
    [row] = bot.rows(EscalationRecord)
    assert (row.answer_id, row.platform, row.channel, row.thread, row.status) == (
        record.id,
        "slack",
        "C1",
        question["ts"],
        "open",
    )
    assert row.requested_by == record.user_hash  # the asker, hashed as their question was


def test_the_thanks_for_a_thumbs_down_offers_a_person(person_bot: Harness) -> None:
    bot = person_bot
    question, answer, record = ask(bot, REFUND)
    assert not record.declined and escalate_id(record.id) not in buttons(answer)  # an answer: no offer

    bot.interact(click(answer, record.id, -1))
    [thanks] = wait_for(lambda: bot.slack.ephemerals)
    assert thanks["text"] == messages.VOTE_THANKS[-1]
    [offer] = [b for b in thanks["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in offer["elements"]] == [escalate_id(record.id)]

    bot.interact(press({**answer, "ts": thanks["message_ts"]}, escalate_id(record.id)))  # on the note
    [request] = wait_for(lambda: requests_for_a_person(bot.slack))
    assert request["thread_ts"] == question["ts"] and REFUND in request["text"]
    assert bot.count(EscalationRecord) == 1


def test_a_thumbs_down_reaction_is_thanked_privately_in_the_thread_with_the_offer(
    person_bot: Harness,
) -> None:
    bot = person_bot
    question, answer, record = ask(bot, REFUND)

    assert bot.event(reaction(answer, "-1", user="UOTHER")) == 200
    [thanks] = wait_for(lambda: bot.slack.ephemerals)
    assert (thanks["user"], thanks["channel"], thanks["thread_ts"]) == ("UOTHER", "C1", question["ts"])
    assert thanks["text"] == messages.VOTE_THANKS[-1] and buttons(thanks) == [escalate_id(record.id)]

    # The same 👎 again (Slack delivering the event twice, another skin tone): recorded, not thanked again.
    bot.event(reaction(answer, "-1", user="UOTHER"), retry_num=1)
    bot.event(reaction(answer, "-1::skin-tone-2", user="UOTHER"))
    bot.settle()
    assert len(bot.slack.ephemerals) == 1

    bot.interact(press({**answer, "ts": thanks["message_ts"]}, escalate_id(record.id), user="UOTHER"))
    [request] = wait_for(lambda: requests_for_a_person(bot.slack))
    assert request["thread_ts"] == question["ts"] and REFUND in request["text"]
    # Once a person is asked in the thread, another user's 👎 is recorded without an offer to ask again.
    bot.event(reaction(answer, "thumbsdown"))
    wait_for(lambda: len(feedback(bot)) == 2)
    bot.settle()
    assert len(bot.slack.ephemerals) == 1 and len(requests_for_a_person(bot.slack)) == 1
    assert bot.count(EscalationRecord) == 1


def test_a_thumbs_up_a_removed_thumbs_down_or_another_message_offers_nothing(person_bot: Harness) -> None:
    bot = person_bot
    question, answer, record = ask(bot, REFUND)

    bot.event(reaction(question, "-1"))  # the question: not one of our answers
    bot.event(reaction(answer, "+1"))
    wait_for(lambda: feedback(bot) == [(record.id, 1, None, False)])
    bot.settle()
    assert bot.slack.ephemerals == []

    bot.event(reaction(answer, "-1"))  # the 👍 becomes a 👎: a new one, thanked
    [thanks] = wait_for(lambda: bot.slack.ephemerals)
    assert thanks["user"] == "UPLAIN" and buttons(thanks) == [escalate_id(record.id)]
    bot.event(reaction(answer, "-1", added=False))
    wait_for(lambda: feedback(bot) == [(record.id, -1, None, True)])
    bot.settle()
    assert len(bot.slack.ephemerals) == 1 and bot.count(EscalationRecord) == 0


def test_a_thumbs_down_reaction_stays_silent_when_nobody_is_set_to_answer(bot: Harness) -> None:
    _, answer, record = ask(bot, REFUND)
    bot.event(reaction(answer, "-1"))
    wait_for(lambda: feedback(bot) == [(record.id, -1, None, False)])
    bot.settle()
    assert bot.slack.ephemerals == []


def test_with_a_channel_set_the_request_goes_to_that_channel_pointing_at_the_thread(
    person_app: SupportLoop, slack: FakeSlack
) -> None:
    with running(person_app.conversations, slack, person_app, escalate="C0TEAM") as bot:
        _, declined, record = ask(bot, BANANA)
        bot.interact(press(declined, escalate_id(record.id)))
        [told] = wait_for(lambda: bot.slack.ephemerals)
        bot.settle()
    [request] = [p for p in slack.calls_to("chat.postMessage") if p["channel"] == "C0TEAM"]
    assert request["text"].startswith("A person is needed in a thread in <#C1>.")
    assert BANANA in request["text"] and "thread_ts" not in request
    assert told["text"] == messages.ESCALATED_TO_CHANNEL and told["user"] == "UPLAIN"


def seed_unhelped(loop: SupportLoop) -> None:
    """Declined questions, two kinds, as users would have asked them (see tests/console/test_gaps.py)."""
    for question in [
        "How do I turn on dark mode?",
        "Is there a dark theme?",
        "Do you have an office in Berlin?",
    ]:
        record_answer(loop.records, question=question, answer="I can't find that.", declined=True)


def command_reply(bot: Harness, text: str, user: str) -> str:
    """What a user sees after ``/supportloop <text>``: on the ack, or privately soon after."""
    before = len(bot.slack.ephemerals)
    _, body = bot.command(text, user=user)
    if body.get("text"):
        return str(body["text"])
    wait_for(lambda: len(bot.slack.ephemerals) > before, 30)
    return str(bot.slack.ephemerals[before]["text"])


def test_gaps_command_lists_the_clusters_for_admins_only(bot: Harness) -> None:
    seed_unhelped(bot.app)
    refused = command_reply(bot, "gaps", "UPLAIN")
    assert refused == messages.ADMIN_ONLY.format(command="gaps")

    shown = command_reply(bot, "gaps", "UADMIN")
    assert shown.startswith("*Knowledge gaps*") and "**" not in shown  # Slack's bold
    assert "1. *2 questions*, 2 declined:" in shown and "dark" in shown
    assert "2. *1 questions*, 1 declined: “Do you have an office in Berlin?”" in shown
    assert "closest page: &lt;" not in shown and "|" in shown  # the page as a Slack link
