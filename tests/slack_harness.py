"""Driving the Slack adapter through the local fake Slack: the bot's event loop in a thread, signed
requests and Socket Mode envelopes in, the fake's records and the database out. Shared by the Slack tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fakes.slack_api import FakeSlack
from sqlalchemy import func, select

from bots import messages
from bots.conversation import ConversationService
from bots.custom_ids import vote_id
from bots.slack_bot import SlackBot
from core.tables import FeedbackRecord
from supportloop.app import SupportLoop

T = TypeVar("T")
SECRET = "test-signing-secret"


class LoopThread:
    """An asyncio loop in a background thread: the bot lives there, the synchronous test drives it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="slack-bot-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Harness:
    bot: SlackBot
    slack: FakeSlack
    app: SupportLoop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.bot.port}/slack/events"

    def event(self, event: dict[str, Any], **kwargs: Any) -> int:
        status, _ = self.slack.post_event(self.url, event, signing_secret=SECRET, **kwargs)
        return status

    def interact(self, payload: dict[str, Any]) -> int:
        return self.slack.post_interaction(self.url, payload, signing_secret=SECRET)[0]

    def command(self, text: str, user: str = "UPLAIN", channel: str = "C1") -> tuple[int, dict[str, Any]]:
        fields = {"command": "/supportloop", "text": text, "user_id": user, "channel_id": channel}
        status, body = self.slack.post_command(self.url, fields, signing_secret=SECRET)
        # Bolt answers a text-only ack as text/plain, which Slack shows privately like {"text": ...}.
        return status, json.loads(body) if body.startswith("{") else {"text": body} if body else {}

    def settle(self, timeout: float = 10) -> None:
        """Wait until no answer is in progress (after the requests that started them were acked)."""
        time.sleep(0.05)
        wait_for(lambda: self.bot.answering == 0, timeout)

    def count(self, table: type) -> int:
        with self.app.db.session() as session:
            return session.scalar(select(func.count()).select_from(table)) or 0

    def rows(self, table: type) -> list[Any]:
        with self.app.db.session() as session:
            return list(session.scalars(select(table).order_by(table.id)).all())

    def answered(self, n: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until ``n`` answers show (messages with vote buttons) and the bot has finished with them."""
        found = wait_for(
            lambda: (found := answer_messages(self.slack)) and len(found) >= n and found, timeout
        )
        self.settle()
        return found


def wait_for(predicate: Callable[[], T], timeout: float = 10) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the bot")
        time.sleep(0.02)


def answer_messages(slack: FakeSlack) -> list[dict[str, Any]]:
    """Messages carrying vote buttons, in posting order."""
    with slack._lock:
        found = [dict(m, channel=c) for (c, _), m in slack.messages.items() if action_blocks(m)]
    return sorted(found, key=lambda m: float(m["ts"]))


def placeholders(slack: FakeSlack) -> list[dict[str, Any]]:
    return [p for p in slack.calls_to("chat.postMessage") if p.get("text") == messages.PLACEHOLDER]


def action_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message.get("blocks") or [] if b.get("type") == "actions"]


@contextmanager
def running(
    service: ConversationService,
    slack: FakeSlack,
    app: SupportLoop,
    *,
    socket_mode: bool = False,
    admins: tuple[str, ...] = (),
    placeholder_after_s: float = 0.0,  # by default every answer counts as slow: the placeholder shows
    escalate: str | None = None,
) -> Iterator[Harness]:
    thread = LoopThread()

    async def make() -> SlackBot:
        return SlackBot(
            service,
            bot_token=slack.bot_token,
            app_token=slack.app_token if socket_mode else None,
            signing_secret=None if socket_mode else SECRET,
            api_url=slack.api_url,
            admins=admins,
            port=0,
            placeholder_after_s=placeholder_after_s,
            escalate=escalate,
        )

    bot = thread.run(make())
    try:
        thread.run(bot.start())
        yield Harness(bot, slack, app)
    finally:
        started = time.monotonic()
        thread.run(bot.stop())
        assert time.monotonic() - started < 3, "stop() should be quick"
        thread.close()


_ts = iter(range(1, 1_000_000))


def new_ts() -> str:
    """A user message ts, distinct from the fake's own (which start at 1700000000)."""
    return f"1600000000.{next(_ts):06d}"


def message(text: str, *, kind: str = "message", user: str = "UPLAIN", channel: str = "C1", **extra: Any):
    event = {"type": kind, "user": user, "text": text, "channel": channel, "ts": new_ts(), **extra}
    if kind == "message":
        event.setdefault("channel_type", "im" if channel.startswith("D") else "channel")
    event["event_ts"] = event["ts"]
    return event


def mention(text: str, **extra: Any) -> dict[str, Any]:
    return message(f"<@UBOT> {text}", kind="app_mention", **extra)


def click(answer: dict[str, Any], answer_id: int, vote: int, user: str = "UPLAIN") -> dict[str, Any]:
    return press(answer, vote_id(answer_id, vote), user)


def press(answer: dict[str, Any], action_id: str, user: str = "UPLAIN") -> dict[str, Any]:
    """A ``block_actions`` payload: ``user`` pressed the button ``action_id`` on ``answer``."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "team": {"id": "T1", "domain": "test"},
        "container": {
            "type": "message",
            "message_ts": answer["ts"],
            "channel_id": answer["channel"],
            "is_ephemeral": False,
            "thread_ts": answer.get("thread_ts"),
        },
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.abc",
        "channel": {"id": answer["channel"], "name": "general"},
        "message": {k: answer[k] for k in ("type", "ts", "thread_ts", "user", "bot_id") if k in answer},
        "response_url": "http://127.0.0.1:9/response",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "supportloop_votes",
                "value": action_id,
                "action_ts": "1700000001.000001",
            }
        ],
    }


def reaction(
    answer: dict[str, Any], name: str, *, added: bool = True, user: str = "UPLAIN"
) -> dict[str, Any]:
    return {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": name,
        "item": {"type": "message", "channel": answer["channel"], "ts": answer["ts"]},
        "item_user": "UBOT",
        "event_ts": new_ts(),
    }


def submit_reason(view: dict[str, Any], text: str | None, user: str = "UPLAIN") -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T1"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "view": {
            **view,
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": text}}}},
        },
    }


def feedback(harness: Harness) -> list[tuple[int, int, str | None, bool]]:
    return [(f.answer_id, f.vote, f.reason, f.retracted) for f in harness.rows(FeedbackRecord)]
