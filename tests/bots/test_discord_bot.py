"""The Discord adapter end to end: the real discord.py bot and our real service against a fake Discord.

Answers come from the real answerer over the prepared demo index (extractive mode, no chat model);
feedback and job runs land in a real SQLite database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from discord_harness import (
    ADMIN,
    HELPER,
    OTHER,
    USER,
    adapter,
    answered,
    buttons,
    ephemeral_text,
    linked_answer,
)
from fakes.discord_api import FakeDiscord
from helpers import PlatformThread
from sqlalchemy import select

from bots import messages
from bots.conversation import ConversationService
from bots.custom_ids import vote_id
from bots.discord_bot import INTENTS, DiscordBot
from core.settings import load_settings
from core.tables import FeedbackRecord, JobRunRecord
from rag.answerer import Answer
from rag.passage import Passage
from supportloop.app import SupportLoop

pytestmark = pytest.mark.slow  # needs the prepared index

QUESTION = "How do I get a refund on an annual plan?"


@pytest.fixture
def loop(fresh_dir) -> Iterator[SupportLoop]:
    with SupportLoop(load_settings()) as running:
        yield running


@pytest.fixture
def bot(loop: SupportLoop, fake: FakeDiscord) -> Iterator[PlatformThread]:
    with PlatformThread(adapter(loop.conversations, fake)) as running:
        yield running


def feedback(loop: SupportLoop) -> list[tuple[int, int, str | None, bool]]:
    with loop.db.session() as session:
        rows = session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.id)).all()
        return [(r.answer_id, r.vote, r.reason, r.retracted) for r in rows]


def test_a_mention_is_answered_in_a_thread_and_follow_ups_need_no_mention(bot, fake, loop):
    asked = fake.user_message(USER, QUESTION, mention_bot=True)
    thread_id = asked["id"]  # a thread started from a message takes the message's id
    [answer] = answered(fake, thread_id)
    assert fake.threads[thread_id]["parent_id"] == fake.channel_id
    posts = fake.calls_to("POST", f"/channels/{thread_id}/messages")
    assert posts[0].json["content"] == messages.PLACEHOLDER  # shown at once, then edited into the answer
    assert answer["content"] != messages.PLACEHOLDER and "refund" in answer["content"].lower()
    [embed] = answer["embeds"]
    assert "/billing/refunds.html" in embed["description"]
    answer_id = linked_answer(fake, loop, answer)
    assert buttons(answer) == [vote_id(answer_id, 1), vote_id(answer_id, -1)]

    fake.user_message(OTHER, "How long do deleted files stay recoverable?", channel_id=thread_id)
    answers = answered(fake, thread_id, 2)
    assert "deleted" in answers[1]["content"].lower() or "restore" in answers[1]["content"].lower()
    fake.user_message(USER, "just chatting, no question", channel_id=fake.channel_id)
    fake.user_message(USER, "What about refunds?", mention_bot=True, dm=True)
    dm = fake.dm_channel_id(USER)
    answered(fake, dm)
    assert len(fake.threads) == 1  # the plain message got no thread, the DM is answered in place


def test_votes_by_button_and_reaction_are_one_vote_that_changes_and_retracts(bot, fake, loop):
    asked = fake.user_message(USER, QUESTION, mention_bot=True)
    thread_id = asked["id"]
    [answer] = answered(fake, thread_id)
    answer_id = linked_answer(fake, loop, answer)

    fake.react(USER, thread_id, answer["id"], "👍")  # first the reaction (its handling is silent) …
    fake.wait_for(lambda: feedback(loop) == [(answer_id, 1, None, False)], 10)
    thanks = fake.click_button(USER, answer, vote_id(answer_id, 1))  # … then the same vote by button
    assert ephemeral_text(fake, thanks) == messages.VOTE_THANKS[1]
    assert feedback(loop) == [(answer_id, 1, None, False)]  # still one vote

    down = fake.click_button(USER, answer, vote_id(answer_id, -1))
    fake.wait_for(lambda: fake.interaction_responses(down), 10)
    assert fake.interaction_responses(down)[0]["type"] == 9  # the "what was wrong?" modal
    assert feedback(loop) == [(answer_id, -1, None, False)]
    noted = fake.submit_modal(USER, f"supportloop:reason:{answer_id}", {"reason": "It ignored my plan"})
    assert ephemeral_text(fake, noted) == messages.REASON_THANKS
    assert feedback(loop) == [(answer_id, -1, "It ignored my plan", False)]

    fake.unreact(USER, thread_id, answer["id"], "👍")  # the 👍 reaction no longer stands for his vote
    fake.react(OTHER, thread_id, answer["id"], "👍")
    fake.wait_for(lambda: len(feedback(loop)) == 2, 10)
    fake.unreact(OTHER, thread_id, answer["id"], "👍")
    fake.wait_for(lambda: feedback(loop)[1][3], 10)
    assert feedback(loop)[0] == (answer_id, -1, "It ignored my plan", False)


def test_a_vote_button_naming_an_impossible_answer_says_the_answer_is_gone(bot, fake, loop):
    asked = fake.user_message(USER, QUESTION, mention_bot=True)
    [answer] = answered(fake, asked["id"])
    answer_id = linked_answer(fake, loop, answer)
    button = vote_id(answer_id, 1)
    for impossible in (2**63, 10**30):  # past SQLite's INTEGER, and past any integer a database holds
        fake.rewrite_button(answer["id"], button, vote_id(impossible, 1))
        button = vote_id(impossible, 1)
        clicked = fake.click_button(USER, answer["id"], button)
        assert ephemeral_text(fake, clicked) == messages.VOTE_GONE
    assert feedback(loop) == []


def test_admin_commands_are_checked_and_queue_jobs(bot, fake, loop):
    refused = fake.slash_command(USER, "supportloop", "retrain")
    assert ephemeral_text(fake, refused) == messages.ADMIN_ONLY.format(command="retrain")
    with loop.db.session() as session:
        assert session.scalars(select(JobRunRecord)).all() == []
    for user in (ADMIN, HELPER):  # the Administrator permission, or the configured role
        queued = fake.slash_command(user, "supportloop", "retrain")
        fake.wait_for(lambda queued=queued: fake.interaction_responses(queued), 10)
        assert "Queued retrain" in fake.interaction_responses(queued)[0]["data"]["content"]
    with loop.db.session() as session:
        assert [r.kind for r in session.scalars(select(JobRunRecord))] == ["retrain", "retrain"]
    status = ephemeral_text(fake, fake.slash_command(USER, "supportloop", "status"))
    assert "**Model:**" in status and "pages" in status  # Discord's bold, not Slack's
    assert "retrain" not in status and "Feedback" not in status  # nothing internal for non-admins
    assert " /" not in status  # nor where the model folder is on the server
    status = ephemeral_text(fake, fake.slash_command(ADMIN, "supportloop", "status"))
    assert "**Model:**" in status and "retrain: queued" in status and "**Feedback:**" in status


def test_reindex_reports_back_in_the_channel(bot, fake, loop):
    loop.worker.start()
    fake.slash_command(ADMIN, "supportloop", "reindex")
    fake.wait_for(
        lambda: any("(reindex) finished" in m["content"] for m in fake.channel_messages(fake.channel_id)), 30
    )


def test_ask_command_answers_publicly_with_buttons(bot, fake, loop):
    asked = fake.slash_command(USER, "supportloop", "ask", {"question": QUESTION})
    fake.wait_for(lambda: any(r["kind"] == "followup" for r in fake.interaction_responses(asked)), 10)
    [answer] = answered(fake, fake.channel_id)
    assert "refund" in answer["content"].lower() and answer["embeds"]


class LongAnswerer:
    """Answers with a long text holding a code block: no help page of the demo site is long enough to
    produce one, and what is under test here is only how the adapter splits what the service returns."""

    def answer(
        self, question: str, *, draft: bool = False, thread: Sequence[str] = (), explore: bool = False
    ) -> Answer:
        code = "\n".join(f"tidepool sync --folder project-{n} --verbose" for n in range(60))
        text = "Run these commands:\n```bash\n" + code + "\n```\n" + "Then check the result. " * 80
        return Answer(question, text, ["http://help.example/sync.html"], [], False, 0.01, 0.01)


def test_a_long_answer_is_split_with_fences_balanced_and_buttons_last(fake, loop):
    service = ConversationService(LongAnswerer(), loop.records, lambda: 0, "key")  # type: ignore[arg-type]
    with PlatformThread(adapter(service, fake)):
        asked = fake.user_message(USER, "How do I sync many folders?", mention_bot=True)
        fake.wait_for(
            lambda: len(fake.channel_messages(asked["id"])) >= 3 and answered(fake, asked["id"]), 10
        )
    parts = [m for m in fake.channel_messages(asked["id"]) if m["author"]["id"] == fake.bot_user_id]
    assert len(parts) >= 3
    assert all(len(p["content"]) <= 2000 and p["content"].count("```") % 2 == 0 for p in parts)
    assert [bool(p["components"]) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert parts[1]["content"].startswith("```bash")
    service.close()


class StepsAnswerer:
    """Quotes a long page of numbered steps the way the extractive answerer does: the steps run together
    in one quoted line, the page named under the quote and again as the answer's source."""

    page = "http://help.example/sync.html"

    def answer(
        self, question: str, *, draft: bool = False, thread: Sequence[str] = (), explore: bool = False
    ) -> Answer:
        steps = " ".join(
            f"{n}. " + "Open the folder, choose **Sync now**, and wait for the tick. " * 4
            for n in range(1, 25)
        )
        text = f"From the help pages:\n> To sync a folder: {steps}\n— Sync folders ({self.page})"
        passage = Passage("p1", "text", self.page, "Sync folders", "Steps", 0.9)
        return Answer(question, text, [self.page], [passage], False, 0.01, 0.01)


def test_a_long_multi_step_answer_splits_between_steps_and_names_its_source_once(fake, loop):
    service = ConversationService(StepsAnswerer(), loop.records, lambda: 0, "key")  # type: ignore[arg-type]
    with PlatformThread(adapter(service, fake)):
        asked = fake.user_message(USER, "How do I sync a folder?", mention_bot=True)
        fake.wait_for(lambda: answered(fake, asked["id"]), 10)
    parts = [m for m in fake.channel_messages(asked["id"]) if m["author"]["id"] == fake.bot_user_id]
    service.close()
    assert len(parts) >= 2 and all(1000 <= len(p["content"]) <= 2000 for p in parts[:-1])
    assert parts[0]["content"].startswith("From the help pages:\n> To sync a folder:\n> 1. Open")
    assert all(p["content"].startswith("> ") for p in parts[1:])  # each later part starts at a step
    lines = "\n".join(p["content"] for p in parts).split("\n")
    assert [line.split(".")[0] for line in lines[2:]] == [f"> {n}" for n in range(1, 25)]
    assert "**Sync now**" in parts[0]["content"]  # Discord's bold
    assert not any(StepsAnswerer.page in p["content"] for p in parts)  # the source only in the embed
    [embed] = parts[-1]["embeds"]
    assert embed["description"] == f"1. [Sync folders]({StepsAnswerer.page})"


class TimedAnswerer:
    """Answers after ``delay_s``, to tell a quick answer from a slow one whatever the machine's speed."""

    page = "http://help.example/refunds.html"

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def answer(
        self, question: str, *, draft: bool = False, thread: Sequence[str] = (), explore: bool = False
    ) -> Answer:
        time.sleep(self.delay_s)
        passage = Passage("p1", "text", self.page, "Refunds", "Refunds", 0.9)
        return Answer(question, "Refunds are possible within 30 days.", [self.page], [passage], False, 0, 0)


@pytest.mark.parametrize(("delay_s", "after_s", "placeholder"), [(0.0, 2.0, False), (1.0, 0.2, True)])
def test_only_a_slow_answer_gets_a_placeholder_that_is_edited_into_it(
    fake, loop, delay_s, after_s, placeholder
):
    service = ConversationService(TimedAnswerer(delay_s), loop.records, lambda: 0, "key")  # type: ignore[arg-type]
    with PlatformThread(adapter(service, fake, placeholder_after_s=after_s)):
        asked = fake.user_message(USER, "How do refunds work?", mention_bot=True)
        [answer] = answered(fake, asked["id"])
    service.close()
    posts = fake.calls_to("POST", f"/channels/{asked['id']}/messages")
    edits = fake.calls_to("PATCH", f"/channels/{asked['id']}/messages/{{message_id}}")
    assert len(posts) == 1 and (posts[0].json["content"] == messages.PLACEHOLDER) == placeholder
    assert len(edits) == (1 if placeholder else 0)
    assert answer["content"] == "Refunds are possible within 30 days." and answer["components"]


def test_a_placeholder_edit_whose_connection_is_closed_is_made_once_more(fake, loop):
    service = ConversationService(TimedAnswerer(1.0), loop.records, lambda: 0, "key")  # type: ignore[arg-type]
    with PlatformThread(adapter(service, fake, placeholder_after_s=0.2)):
        fake.drop_connection("PATCH", "/channels/{channel_id}/messages/{message_id}")
        asked = fake.user_message(USER, "How do refunds work?", mention_bot=True)
        [answer] = answered(fake, asked["id"])
    service.close()
    assert len(fake.calls_to("PATCH", f"/channels/{asked['id']}/messages/{{message_id}}")) == 1  # 1 dropped
    assert answer["content"] == "Refunds are possible within 30 days." and answer["components"]


def test_a_rate_limited_post_is_retried_and_the_answer_arrives_once(bot, fake, loop):
    fake.rate_limit("POST", "/channels/{channel_id}/messages", times=1, retry_after=0.2)
    asked = fake.user_message(USER, QUESTION, mention_bot=True)
    [answer] = answered(fake, asked["id"])
    assert len([m for m in fake.channel_messages(asked["id"]) if m["author"]["id"] == fake.bot_user_id]) == 1
    assert "refund" in answer["content"].lower()


def test_buttons_work_after_the_bot_restarts(fake, loop):
    with PlatformThread(adapter(loop.conversations, fake)):
        asked = fake.user_message(USER, QUESTION, mention_bot=True)
        [answer] = answered(fake, asked["id"])
    answer_id = linked_answer(fake, loop, answer)
    with PlatformThread(adapter(loop.conversations, fake)):  # a new process would start just like this
        clicked = fake.click_button(OTHER, answer, vote_id(answer_id, 1))
        assert ephemeral_text(fake, clicked) == messages.VOTE_THANKS[1]
    assert feedback(loop) == [(answer_id, 1, None, False)]
    assert fake.gateway_connections == 2


def test_stopping_the_bot_lets_an_answer_being_written_finish(fake, loop):
    with PlatformThread(adapter(loop.conversations, fake)):
        asked = fake.user_message(USER, QUESTION, mention_bot=True)
        fake.wait_for(lambda: fake.threads, 10, "the bot opened a thread for the question")
    # The bot was stopped while it was still answering: the answer is posted all the same, and
    # linked, so votes on it count.
    [answer] = answered(fake, asked["id"])
    assert linked_answer(fake, loop, answer) is not None


def slowed(monkeypatch: pytest.MonkeyPatch, service: ConversationService, method: str) -> threading.Event:
    """Make ``service.method`` take a second longer; the event is set once a call has begun."""
    begun, original = threading.Event(), getattr(service, method)

    def slow(*args: object, **kwargs: object) -> object:
        begun.set()
        time.sleep(1.0)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, method, slow)
    return begun


def test_stopping_the_bot_lets_a_vote_click_and_a_command_being_handled_finish(fake, loop, monkeypatch):
    with PlatformThread(adapter(loop.conversations, fake)):
        asked = fake.user_message(USER, QUESTION, mention_bot=True)
        [answer] = answered(fake, asked["id"])
        answer_id = linked_answer(fake, loop, answer)
    for method in ("vote", "command"):
        begun = slowed(monkeypatch, loop.conversations, method)
        with PlatformThread(adapter(loop.conversations, fake)):
            if method == "vote":
                clicked = fake.click_button(OTHER, answer, vote_id(answer_id, 1))
            else:
                clicked = fake.slash_command(USER, "supportloop", "status")
            assert begun.wait(10), f"the bot began handling the {method}"
        # The bot was stopped while the click was being handled: the user still hears back.
        assert ephemeral_text(fake, clicked)
    assert feedback(loop) == [(answer_id, 1, None, False)]


def test_unknown_and_malformed_events_do_not_stop_the_bot(bot, fake, loop):
    fake.send_raw({"t": "SOMETHING_DISCORD_ADDS_LATER", "d": {"x": 1}})
    fake.send_raw({"t": "MESSAGE_CREATE", "d": {"id": "1"}})  # discord.py's own parser fails on this
    fake.send_raw({"t": "MESSAGE_REACTION_ADD", "d": {"emoji": None}})
    asked = fake.user_message(USER, QUESTION, mention_bot=True)
    answered(fake, asked["id"])
    assert fake.gateway_connections == 1  # still the first connection


def test_a_rejected_token_is_a_clear_error(fake, loop):
    bad = DiscordBot(loop.conversations, token="wrong", api_url=fake.api_url, gateway_url=fake.gateway_url)
    with pytest.raises(Exception, match="Discord rejected SUPPORTLOOP_DISCORD_TOKEN"):
        PlatformThread(bad).__enter__()


def test_the_bot_asks_for_the_minimal_intents():
    wanted = {"guilds", "guild_messages", "dm_messages", "guild_reactions", "dm_reactions", "message_content"}
    assert {name for name, on in INTENTS if on} == wanted  # no members, presences, typing or voice
