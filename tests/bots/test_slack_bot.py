"""The Slack adapter end to end: the real SupportLoop service, the real Bolt app, a local fake Slack.

Each test runs the bot's event loop in a background thread (as ``supportloop serve`` would run it) and
drives it through the fake: signed HTTP requests to ``/slack/events``, or envelopes over the Socket Mode
websocket. Assertions read the database and what the fake recorded.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Sequence
from typing import Any

import pytest
from fakes.slack_api import FakeSlack
from slack_harness import (
    SECRET,
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
from bots.slack_bot import SlackBot
from bots.slack_manifest import slack_manifest
from bots.slack_render import SECTION_CHARS, render_reply, to_mrkdwn
from core.errors import SupportLoopError
from core.tables import AnswerMessageRecord, AnswerRecord, FeedbackRecord, HandledEventRecord, JobRunRecord
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

    def answer(self, question: str, *, draft: bool = False, thread: Sequence[str] = ()) -> Answer:
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

    def answer(self, question: str, *, draft: bool = False, thread: Sequence[str] = ()) -> Answer:
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


# --------------------------------------------------------------------- /supportloop


def test_a_non_admin_retrain_is_refused_privately(bot: Harness) -> None:
    status, body = bot.command("retrain", user="UPLAIN")
    assert status == 200
    assert body["text"] == messages.ADMIN_ONLY.format(command="retrain")
    assert body.get("response_type", "ephemeral") == "ephemeral"
    bot.settle()
    assert bot.count(JobRunRecord) == 0
    assert not bot.slack.calls_to("chat.postMessage")


def test_admins_by_setting_or_by_workspace_role_queue_a_retrain(bot: Harness) -> None:
    assert bot.command("retrain", user="UCONFIGURED")[0] == 200  # listed in SUPPORTLOOP_SLACK_ADMINS
    assert bot.command("retrain", user="UADMIN")[0] == 200  # a workspace admin per users.info
    assert bot.command("retrain", user="UADMIN")[0] == 200
    wait_for(lambda: len(bot.slack.calls_to("chat.postMessage")) == 3)
    runs = bot.rows(JobRunRecord)
    assert [(r.kind, r.status) for r in runs] == [("retrain", "queued")] * 3
    assert [p["user"] for p in bot.slack.calls_to("users.info")] == ["UADMIN"]  # cached after one look-up
    lines = [p["text"] for p in bot.slack.calls_to("chat.postMessage")]
    assert [line.split(".")[0] for line in lines] == [f"Queued retrain as job #{r.id}" for r in runs]
    assert all(p["channel"] == "C1" for p in bot.slack.calls_to("chat.postMessage"))


def test_an_admin_reindex_runs_and_its_result_is_posted_in_the_channel(bot: Harness) -> None:
    bot.app.worker.start()
    status, body = bot.command("reindex", user="UADMIN")
    assert status == 200 and not body.get("text")
    finished = wait_for(
        lambda: [p for p in bot.slack.calls_to("chat.postMessage") if "finished" in p["text"]], timeout=60
    )
    lines = [p["text"] for p in bot.slack.calls_to("chat.postMessage")]
    assert lines[0].startswith("Queued reindex as job #1")
    assert lines[1] == "Job #1 (reindex) started."
    assert finished[0]["channel"] == "C1" and "pages" in finished[0]["text"]
    [run] = bot.rows(JobRunRecord)
    assert (run.kind, run.status) == ("reindex", "succeeded")


def test_status_and_help_answer_privately(bot: Harness) -> None:
    bot.event(mention(REFUND))
    [answer] = bot.answered()
    [record] = bot.rows(AnswerRecord)
    bot.interact(click(answer, record.id, 1))
    wait_for(lambda: bot.count(FeedbackRecord))

    status, body = bot.command("status")  # anyone: the essentials, nothing internal
    assert status == 200
    assert "*Model:*" in body["text"] and "*Index:*" in body["text"] and "**" not in body["text"]
    assert "Feedback" not in body["text"] and "Recent jobs" not in body["text"]
    assert "127.0.0.1" not in body["text"] and "HTTP" not in body["text"]
    assert " /" not in body["text"]  # nor where the model folder is on the server
    assert body.get("response_type", "ephemeral") == "ephemeral"
    status, body = bot.command("status", user="UADMIN")  # a workspace admin: the details too
    assert status == 200 and "**" not in body["text"]
    assert "*Feedback:* 1 answers, 1 👍, 0 👎" in body["text"] and "*Recent jobs:*" in body["text"]
    assert body.get("response_type", "ephemeral") == "ephemeral"
    _, body = bot.command("")
    assert "/supportloop ask &lt;question&gt;" in body["text"]  # Slack's control characters escaped


def test_ask_by_command_answers_in_the_channel_with_buttons(bot: Harness) -> None:
    status, body = bot.command(f"ask {REFUND}")
    assert status == 200 and body["text"] == messages.PLACEHOLDER  # at once, privately
    [answer] = bot.answered()
    assert "thread_ts" not in answer and answer["channel"] == "C1"
    assert answer["blocks"][-2]["type"] == "context"
    [record] = bot.rows(AnswerRecord)
    assert [link.message for link in bot.rows(AnswerMessageRecord)] == [answer["ts"]]
    assert action_blocks(answer)[0]["elements"][1]["action_id"] == vote_id(record.id, -1)
    bot.command("ask")  # an empty question is answered privately
    wait_for(lambda: bot.slack.ephemerals)
    assert bot.slack.ephemerals[0]["text"] == to_mrkdwn(messages.EMPTY_QUESTION)
    assert len(bot.slack.calls_to("chat.postMessage")) == 1


# --------------------------------------------------------------------- robustness


def test_bad_signatures_and_stale_timestamps_are_rejected(bot: Harness) -> None:
    question = mention(REFUND)
    assert bot.slack.post_event(bot.url, question, signing_secret=SECRET, bad_signature=True)[0] == 401
    stale = int(time.time()) - 6 * 60
    assert bot.slack.post_event(bot.url, question, signing_secret=SECRET, timestamp=stale)[0] == 401
    assert bot.slack.post_event(bot.url, question, signing_secret="someone-else")[0] == 401
    status, body = bot.slack.post_url_verification(bot.url, "challenge-123", signing_secret=SECRET)
    assert status == 200 and "challenge-123" in body
    bot.settle()
    assert bot.count(AnswerRecord) == bot.count(HandledEventRecord) == 0
    assert not bot.slack.calls_to("chat.postMessage")


def test_the_signature_is_checked_before_the_body_is_read(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Unsigned garbage is a 401 with one short log line, never a 500 and a traceback; a signed body
    that is not JSON or a form is a 400; and the bot keeps answering."""
    garbage = "{not json at all"
    stale = int(time.time()) - 6 * 60
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            assert bot.slack.post_raw(bot.url, garbage, signing_secret=None)[0] == 401
        assert bot.slack.post_raw(bot.url, garbage, signing_secret="someone-else")[0] == 401
        assert bot.slack.post_raw(bot.url, garbage, signing_secret=SECRET, timestamp=stale)[0] == 401
        assert bot.slack.post_raw(bot.url, b"\xff\xfe{", signing_secret=None)[0] == 401
        assert bot.slack.post_raw(bot.url, garbage, signing_secret=SECRET)[0] == 400
        assert bot.slack.post_raw(bot.url, "[1, 2]", signing_secret=SECRET)[0] == 400
        form = "application/x-www-form-urlencoded"
        assert (
            bot.slack.post_raw(bot.url, "payload=%7Bnope", signing_secret=SECRET, content_type=form)[0] == 400
        )
        bot.event(mention(REFUND))
        bot.answered()
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in records if r.exc_info or "Traceback" in r.getMessage()]
    rejected = [r for r in records if "signature" in r.getMessage()]
    assert len(rejected) == 1 and len(rejected[0].getMessage()) < 120
    assert bot.count(AnswerRecord) == 1


def test_malformed_and_unknown_events_are_acknowledged_and_the_bot_keeps_answering(bot: Harness) -> None:
    assert bot.event({"type": "app_mention", "text": "<@UBOT> no channel or ts"}) == 200
    assert bot.event({"type": "message", "channel": "C1"}) == 200
    assert bot.event({"type": "reaction_added", "user": "UPLAIN"}) == 200
    assert bot.event({"text": "an event without a type"}) == 200
    assert bot.event({"type": "emoji_changed", "subtype": "add", "name": "party"}) == 200
    assert bot.event({"type": "app_home_opened", "user": "UPLAIN", "channel": "D1", "tab": "home"}) == 200
    assert (
        bot.interact({"type": "block_actions", "user": {"id": "UPLAIN"}, "actions": [{"action_id": "x"}]})
        == 200
    )
    bot.event(mention(REFUND))
    bot.answered()
    bot.settle()
    assert bot.count(AnswerRecord) == 1


def test_socket_mode_answers_dedupes_replays_and_acks_commands(app: SupportLoop, slack: FakeSlack) -> None:
    with running(app.conversations, slack, app, socket_mode=True) as harness:
        assert harness.bot.description == "Slack (Socket Mode)" and harness.bot.port is None
        question = mention(REFUND)
        callback = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event": question}
        callback["event_id"] = "Ev0002"
        assert slack.send_envelope("events_api", callback)["envelope_id"]
        [answer] = harness.answered()

        slack.disconnect_socket()  # Slack drops the socket; the bot reconnects and Slack replays
        slack.send_envelope("events_api", callback)
        assert slack.socket_connections == 2

        for junk in ({"type": "emoji_changed", "subtype": "add"}, {"type": "app_mention", "user": "UPLAIN"}):
            slack.send_envelope("events_api", {"type": "event_callback", "team_id": "T1", "event": junk})
        [record] = harness.rows(AnswerRecord)
        slack.send_envelope("interactive", click(answer, record.id, 1))
        wait_for(lambda: harness.count(FeedbackRecord))

        command = {
            "command": "/supportloop",
            "text": "status",
            "user_id": "UADMIN",
            "channel_id": "C1",
            "team_id": "T1",
            "api_app_id": "A1",
            "trigger_id": "1.2.3",
            "response_url": "http://127.0.0.1:9/response",
        }
        ack = slack.send_envelope("slash_commands", command, accepts_response_payload=True)
        assert "*Feedback:* 1 answers, 1 👍" in ack["payload"]["text"]
        harness.settle()
    assert harness.count(AnswerRecord) == 1
    assert len(placeholders(slack)) == 1
    assert feedback(harness) == [(record.id, 1, None, False)]


def test_start_fails_in_one_line_on_a_rejected_token_or_missing_settings(
    app: SupportLoop, slack: FakeSlack
) -> None:
    def start(**config: Any) -> str:
        async def go() -> None:
            bot = SlackBot(app.conversations, **{"api_url": slack.api_url, "port": 0, **config})
            try:
                await bot.start()
            finally:
                await bot.stop()

        with pytest.raises(SupportLoopError) as err:
            asyncio.run(go())
        assert "\n" not in str(err.value)
        return str(err.value)

    assert start(bot_token="xoxb-wrong", signing_secret=SECRET) == (
        "Slack rejected SUPPORTLOOP_SLACK_BOT_TOKEN (invalid_auth)."
    )
    assert start(bot_token=slack.bot_token, app_token="xapp-wrong") == (
        "Slack rejected SUPPORTLOOP_SLACK_APP_TOKEN (invalid_auth)."
    )
    assert "SUPPORTLOOP_SLACK_SIGNING_SECRET" in start(bot_token=slack.bot_token)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert start(bot_token=slack.bot_token, signing_secret=SECRET, port=port).startswith(
            f"Cannot listen for Slack on 127.0.0.1:{port}"
        )
    assert not slack.calls_to("chat.postMessage")


def test_the_manifest_asks_for_what_the_adapter_uses() -> None:
    socket = slack_manifest(request_url=None)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert set(socket["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
        "reaction_added",
        "reaction_removed",
    }
    scopes = set(socket["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "users:read", "reactions:read"} <= scopes
    [command] = socket["features"]["slash_commands"]
    assert command["command"] == "/supportloop" and command["usage_hint"]
    assert socket["settings"]["interactivity"]["is_enabled"] is True

    url = "https://bot.example.com/slack/events"
    http = slack_manifest(request_url=url, name="Helpdesk")
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["settings"]["event_subscriptions"]["request_url"] == url
    assert http["settings"]["interactivity"]["request_url"] == url
    assert http["features"]["slash_commands"][0]["url"] == url
    assert http["display_information"]["name"] == http["features"]["bot_user"]["display_name"] == "Helpdesk"
