"""The Slack adapter's `/supportloop` command end to end (real SupportLoop, real Bolt app, local fake
Slack, as in ``test_slack_bot``): who may run what, and where the replies go."""

from __future__ import annotations

from slack_harness import (
    Harness,
    action_blocks,
    click,
    mention,
    wait_for,
)

from bots import messages
from bots.custom_ids import vote_id
from bots.slack_render import to_mrkdwn
from core.tables import AnswerMessageRecord, AnswerRecord, FeedbackRecord, JobRunRecord

REFUND = "How do I get a refund on an annual plan?"


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
