"""The Slack adapter's transport end to end (real SupportLoop, real Bolt app, local fake Slack, as in
``test_slack_bot``): signatures checked before the body is read, malformed events, Socket Mode, start-up
errors, and the app manifest."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import pytest
from fakes.slack_api import FakeSlack
from slack_harness import (
    SECRET,
    Harness,
    click,
    feedback,
    mention,
    placeholders,
    running,
    wait_for,
)

from bots.slack_bot import SlackBot
from bots.slack_manifest import slack_manifest
from core.errors import SupportLoopError
from core.tables import AnswerRecord, FeedbackRecord, HandledEventRecord
from supportloop.app import SupportLoop

REFUND = "How do I get a refund on an annual plan?"


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
