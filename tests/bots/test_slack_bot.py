"""The Slack adapter end to end: the real SupportLoop service, the real Bolt app, a local fake Slack.

Each test runs the bot's event loop in a background thread (as ``supportloop serve`` would run it) and
drives it through the fake: signed HTTP requests to ``/slack/events``, or envelopes over the Socket Mode
websocket. Assertions read the database and what the fake recorded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from fakes.slack_api import FakeSlack
from slack_harness import (
    Harness,
    action_blocks,
    click,
    feedback,
    mention,
    message,
    placeholders,
    reaction,
    running,
    submit_reason,
    wait_for,
)

from bots import messages
from bots.conversation import ConversationService
from bots.custom_ids import reason_id, vote_id
from bots.replies import Reply, Source
from bots.slack_render import SECTION_CHARS, render_reply
from core.tables import AnswerMessageRecord, AnswerRecord, HandledEventRecord
from rag.answerer import Answer
from rag.passage import Passage
from supportloop.app import SupportLoop

REFUND = "How do I get a refund on an annual plan?"
REFUND_PAGE = "/billing/refunds.html"


# --------------------------------------------------------------------- answering


def test_a_mention_gets_a_threaded_answer_with_sources_and_buttons(bot: Harness) -> None:
    question = mention(REFUND)
    assert bot.event(question) == 200
    [answer] = bot.answered()

    posts = bot.slack.calls_to("chat.postMessage")
    assert posts[0] == {"channel": "C1", "thread_ts": question["ts"], "text": messages.PLACEHOLDER}
    [update] = bot.slack.calls_to("chat.update")
    assert update["ts"] == answer["ts"] and answer["thread_ts"] == question["ts"]
    assert [name for name, _ in bot.slack.calls if name.startswith("chat.")] == [
        "chat.postMessage",
        "chat.update",
    ]

    kinds = [block["type"] for block in answer["blocks"]]
    assert kinds[0] == "section" and kinds[-2:] == ["context", "actions"]
    assert answer["text"] and "refund" in answer["text"].lower()
    assert REFUND_PAGE in answer["blocks"][-2]["elements"][0]["text"]
    assert "|" in answer["blocks"][-2]["elements"][0]["text"]  # <url|title> links
    [record] = bot.rows(AnswerRecord)
    buttons = [button["action_id"] for button in answer["blocks"][-1]["elements"]]
    assert buttons == [vote_id(record.id, 1), vote_id(record.id, -1)]
    assert (record.platform, record.channel, record.thread) == ("slack", "C1", question["ts"])
    assert record.question == REFUND and "UPLAIN" not in (record.user_hash or "UPLAIN")
    [link] = bot.rows(AnswerMessageRecord)
    assert (link.answer_id, link.channel, link.message) == (record.id, "C1", answer["ts"])


def test_follow_ups_in_its_threads_are_answered_and_other_threads_ignored(bot: Harness) -> None:
    question = mention(REFUND)
    bot.event(question)
    bot.answered(1)

    bot.event(message("And for a monthly plan?", thread_ts=question["ts"]))
    second = bot.answered(2)[-1]
    assert second["thread_ts"] == question["ts"]

    stranger = message("Anyone know how refunds work?")
    bot.event(message("How do I export my data?", thread_ts=stranger["ts"]))  # a thread we never answered
    bot.event(message("How do I export my data?"))  # a channel message without a mention
    bot.event(message("hi", user="UOTHER", thread_ts=question["ts"], bot_id="BOTHER", subtype="bot_message"))
    bot.event(message("edited", thread_ts=question["ts"], subtype="message_changed"))
    bot.event(message("How long do deleted files stay recoverable?", channel="D1"))  # a DM needs no mention
    bot.answered(3)
    bot.settle()
    assert bot.count(AnswerRecord) == 3
    assert len(placeholders(bot.slack)) == 3
    assert [r.channel for r in bot.rows(AnswerRecord)] == ["C1", "C1", "D1"]


def test_a_retried_event_and_a_mention_sent_twice_are_answered_once(bot: Harness) -> None:
    question = mention(REFUND)
    bot.event(question, event_id="Ev0001")
    bot.answered()
    assert bot.event(question, event_id="Ev0001", retry_num=1, retry_reason="http_timeout") == 200
    # Slack sends a channel mention both as app_mention and as message.channels.
    both = mention("How long do deleted files stay recoverable?")
    bot.event(both)
    bot.event({**both, "type": "message", "channel_type": "channel"})
    bot.answered(2)
    bot.settle()
    assert bot.count(AnswerRecord) == 2
    assert len(placeholders(bot.slack)) == 2
    assert bot.count(HandledEventRecord) == 2


def test_a_rate_limited_post_is_retried_and_answers_once(bot: Harness) -> None:
    bot.slack.rate_limit("chat.postMessage", times=1, retry_after=0)
    bot.event(mention(REFUND))
    bot.answered()
    bot.settle()
    assert len(bot.slack.calls_to("chat.postMessage")) == 2  # the 429, then the placeholder
    assert bot.count(AnswerRecord) == 1
    assert len([m for m in bot.slack.messages.values() if m.get("text")]) == 1


class LongAnswerer:
    """Answers every question with the same 48,000-character text.

    The real answerer quotes a few sentences of one page, so it cannot produce an answer long enough to
    need several sections and several Slack messages; this stands in for it in that one test.
    """

    def __init__(self) -> None:
        self.text = "\n".join(
            f"Step {n}: " + "open the settings page and check the option. " * 2 for n in range(480)
        )

    def answer(
        self, question: str, *, draft: bool = False, thread: Sequence[str] = (), explore: bool = False
    ) -> Answer:
        page = "https://help.example.com/long.html"
        passage = Passage("p1", "text", page, "A long page", "Steps", 0.9)
        return Answer(question, self.text, [page], [passage], False, 0.01, 0.02)


def test_a_long_answer_is_split_with_buttons_on_the_last_message(app: SupportLoop, slack: FakeSlack) -> None:
    answerer = LongAnswerer()
    service = ConversationService(answerer, app.records, lambda: None, "key")  # type: ignore[arg-type]
    try:
        with running(service, slack, app) as harness:
            question = mention("How do I configure everything?")
            harness.event(question)
            harness.answered()
            harness.settle()
    finally:
        service.close()
    [record] = harness.rows(AnswerRecord)
    shown = [slack.messages[("C1", link.message)] for link in harness.rows(AnswerMessageRecord)]
    assert len(shown) == 2
    assert all(m["thread_ts"] == question["ts"] for m in shown)
    sections = [b["text"]["text"] for m in shown for b in m["blocks"] if b["type"] == "section"]
    assert all(len(text) <= SECTION_CHARS for text in sections) and len(sections) > 13
    assert "\n".join(sections) == answerer.text
    assert all(len(m["text"]) < 40_000 and len(m["blocks"]) <= 50 for m in shown)
    assert not action_blocks(shown[0]) and action_blocks(shown[1])
    assert action_blocks(shown[1])[0]["elements"][0]["action_id"] == vote_id(record.id, 1)


def test_a_multi_step_answer_renders_as_mrkdwn_with_its_steps_on_lines_and_its_source_once() -> None:
    page = "https://help.example.com/reset.html"
    steps = " ".join(f"{n}. Open **Settings** & choose <Reset>." for n in range(1, 6))
    text = f"From the help pages:\n> To reset: {steps}\n— Reset your password ({page})"
    reply = Reply(text, "answer", 3, (Source("Reset your password", page),))
    [message] = render_reply(reply)
    [section] = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert section.split("\n")[:3] == [
        "From the help pages:",
        "&gt; To reset:",
        "&gt; 1. Open *Settings* &amp; choose &lt;Reset&gt;.",
    ]
    assert len(section.split("\n")) == 7 and page not in section
    [context] = [b for b in message.blocks if b["type"] == "context"]
    assert context["elements"][0]["text"] == f"*Sources:* <{page}|Reset your password>"


class TimedAnswerer:
    """Answers after ``delay_s``, to tell a quick answer from a slow one whatever the machine's speed."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def answer(
        self, question: str, *, draft: bool = False, thread: Sequence[str] = (), explore: bool = False
    ) -> Answer:
        time.sleep(self.delay_s)
        page = "https://help.example.com/refunds.html"
        passage = Passage("p1", "text", page, "Refunds", "Refunds", 0.9)
        return Answer(question, "Refunds are possible within 30 days.", [page], [passage], False, 0, 0)


@pytest.mark.parametrize(("delay_s", "after_s", "placeholder"), [(0.0, 2.0, False), (1.0, 0.2, True)])
def test_only_a_slow_answer_gets_a_placeholder_that_is_updated_into_it(
    app: SupportLoop, slack: FakeSlack, delay_s: float, after_s: float, placeholder: bool
) -> None:
    service = ConversationService(TimedAnswerer(delay_s), app.records, lambda: None, "key")  # type: ignore[arg-type]
    try:
        with running(service, slack, app, placeholder_after_s=after_s) as harness:
            question = mention("How do refunds work?")
            harness.event(question)
            [answer] = harness.answered()
    finally:
        service.close()
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 1 and posts[0]["thread_ts"] == question["ts"]
    assert (posts[0]["text"] == messages.PLACEHOLDER) == placeholder
    assert len(slack.calls_to("chat.update")) == (1 if placeholder else 0)
    assert answer["text"] == "Refunds are possible within 30 days." and answer["thread_ts"] == question["ts"]


# --------------------------------------------------------------------- feedback


def test_votes_by_button_and_reaction_count_once_change_and_retract(bot: Harness) -> None:
    bot.event(mention(REFUND))
    [answer] = bot.answered()
    [record] = bot.rows(AnswerRecord)

    assert bot.interact(click(answer, record.id, 1)) == 200
    wait_for(lambda: bot.slack.ephemerals)
    assert bot.slack.ephemerals[0]["text"] == messages.VOTE_THANKS[1]
    assert bot.slack.ephemerals[0]["user"] == "UPLAIN" and bot.slack.ephemerals[0]["channel"] == "C1"
    bot.event(reaction(answer, "+1"))
    bot.event(reaction(answer, "thumbsup", user="UBOT"))  # our own reaction is no vote
    bot.settle()
    assert feedback(bot) == [(record.id, 1, None, False)]
    assert not bot.slack.views  # a 👍 asks for no reason

    bot.event(reaction(answer, "+1", added=False))
    wait_for(lambda: feedback(bot)[0][3])
    assert feedback(bot) == [(record.id, 1, None, True)]

    bot.event(reaction(answer, "-1::skin-tone-3"))
    wait_for(lambda: feedback(bot) == [(record.id, -1, None, False)])
    bot.event(reaction(answer, "+1", user="UOTHER"))
    wait_for(lambda: len(feedback(bot)) == 2)
    assert feedback(bot)[1] == (record.id, 1, None, False)


def test_a_vote_button_naming_an_impossible_answer_says_the_answer_is_gone(bot: Harness) -> None:
    bot.event(mention(REFUND))
    [answer] = bot.answered()
    for answer_id in (2**63, 10**30):  # past SQLite's INTEGER, and past any integer a database holds
        assert bot.interact(click(answer, answer_id, -1)) == 200
    wait_for(lambda: len(bot.slack.ephemerals) == 2)
    assert [e["text"] for e in bot.slack.ephemerals] == [messages.VOTE_GONE] * 2
    bot.settle()
    assert feedback(bot) == [] and not bot.slack.views  # no vote, and no "what was wrong?" modal


def test_a_thumbs_down_button_opens_the_reason_modal_and_stores_the_reason(bot: Harness) -> None:
    bot.event(mention(REFUND))
    [answer] = bot.answered()
    [record] = bot.rows(AnswerRecord)

    bot.interact(click(answer, record.id, -1))
    [view] = wait_for(lambda: bot.slack.views)
    assert view["callback_id"] == reason_id(record.id)
    assert view["blocks"][0]["element"]["type"] == "plain_text_input" and view["blocks"][0]["optional"]
    assert bot.slack.calls_to("views.open")[0]["trigger_id"]
    wait_for(lambda: bot.slack.ephemerals)
    assert bot.slack.ephemerals[0]["text"] == messages.VOTE_THANKS[-1]
    assert feedback(bot) == [(record.id, -1, None, False)]

    assert bot.interact(submit_reason(view, None)) == 200  # empty: nothing stored, nothing said
    bot.settle()
    assert feedback(bot) == [(record.id, -1, None, False)] and len(bot.slack.ephemerals) == 1
    assert bot.interact(submit_reason(view, "It ignored that I am on an annual plan")) == 200
    wait_for(lambda: feedback(bot)[0][2])
    assert feedback(bot) == [(record.id, -1, "It ignored that I am on an annual plan", False)]
    wait_for(lambda: len(bot.slack.ephemerals) == 2)
    assert bot.slack.ephemerals[1]["text"] == messages.REASON_THANKS

    bot.interact(click(answer, record.id, 1))  # changing the vote replaces the row
    wait_for(lambda: feedback(bot)[0][1] == 1)
    assert feedback(bot) == [(record.id, 1, None, False)]
