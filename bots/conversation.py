"""The platform-neutral conversation service.

Everything a user sees is decided here, once, for every platform: whether a message gets an answer,
the answer and its sources, whether it can be voted on, what a vote or a reaction does, every error,
and what each ``/supportloop`` command replies. Adapters (console, Slack, Discord) only translate
platform events into these calls and the returned ``Reply`` into platform messages.

The service is synchronous (the answerer and the database are); the chat adapters run it in the
service's own thread pool (``call``), sized so that concurrent questions reach the batching generator
together.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from bots import messages
from bots.admin import AdminBackend
from bots.admin_text import format_gaps, format_status
from bots.rate_limit import RateLimit
from bots.replies import Handoff, IncomingMessage, Origin, Reply, Source
from bots.user_input import ADMIN_COMMANDS, COMMANDS, Command, reaction_vote
from core import metrics
from core.errors import IndexEmptyError, SupportLoopError
from core.escalations import Claim, Escalations
from core.records import Records, hash_user

if TYPE_CHECKING:
    from rag.answerer import Answer, Answerer

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class ConversationService:
    """Answers questions, records votes and runs ``/supportloop`` commands, the same way everywhere."""

    def __init__(
        self,
        answerer: Answerer,
        records: Records,
        model_version: Callable[[], int | None],
        user_hash_key: str,
        *,
        admin: AdminBackend | None = None,
        rate_limit: RateLimit | None = None,
        expecting: Callable[[], AbstractContextManager[object]] = nullcontext,
        workers: int = 16,
        escalate_on: Collection[str] = (),
    ) -> None:
        """``expecting`` announces a question on its way to generation, so the batching generator waits
        for questions that are still retrieving instead of generating without them. ``escalate_on``: the
        platforms where someone is set to answer "Ask a person" (only there is it offered)."""
        self.answerer = answerer
        self.records = records
        self.model_version = model_version
        self.user_hash_key = user_hash_key
        self.admin = admin
        self.rate_limit = rate_limit or RateLimit(0)
        self.expecting = expecting
        self.escalate_on = frozenset(escalate_on)
        self.escalations = Escalations(records.db)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conversation")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a (blocking) method of the service from an adapter's event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ----------------------------------------------------------------- questions

    def question_in(self, message: IncomingMessage) -> str | None:
        """The question to answer in ``message``, or None when SupportLoop should stay quiet.

        It answers direct messages, mentions, and follow-ups in threads it has answered in before; it
        never answers bots (itself included), and handles each message once even when the platform
        delivers it twice (Slack retries, Socket Mode replays, a mention arriving as two events).
        """
        origin = message.origin
        if message.from_bot:
            return None
        wanted = message.is_dm or message.mentions_bot
        if not wanted and message.in_thread and origin.channel and origin.thread:
            wanted = self.records.answered_thread(origin.platform, origin.channel, origin.thread)
        if not wanted:
            return None
        key = f"{origin.platform}:{origin.channel}:{message.message_id}"
        if not self.records.claim_event(key):
            log.info("message %s was handled already", key)
            return None
        return message.text.strip()

    def ask(self, question: str, origin: Origin, *, draft: bool = False) -> Reply:
        """Answer ``question``; never raises: problems become an error ``Reply`` that says what to do.

        ``draft``: the model's own answer, unchecked (for simulated users only; see ``Answerer``).
        """
        if not question.strip():
            return Reply(messages.EMPTY_QUESTION, "notice", private=True)
        if origin.user_id is not None:
            wait = self.rate_limit.wait_s(f"{origin.platform}:{origin.user_id}")
            if wait > 0:
                return Reply(
                    messages.RATE_LIMITED.format(seconds=max(1, round(wait))), "notice", private=True
                )
        try:
            thread = self._thread(origin)
            with self.expecting():
                answer = self.answerer.answer(
                    question, draft=draft, thread=thread, explore=not origin.scripted
                )
            version = self.model_version()
            answer_id = self._record(answer, origin, version)
        except IndexEmptyError:
            metrics.ANSWERS.labels(origin.platform, "failed").inc()
            return Reply(messages.NOT_INDEXED, "error")
        except SupportLoopError as exc:
            metrics.ANSWERS.labels(origin.platform, "failed").inc()
            return Reply(str(exc), "error")
        except Exception:
            log.exception("answering %r failed", question[:200])
            metrics.ANSWERS.labels(origin.platform, "failed").inc()
            return Reply(messages.INTERNAL_ERROR, "error")
        outcome = "declined" if answer.declined else "quoted" if answer.extractive else "answered"
        metrics.ANSWERS.labels(origin.platform, outcome).inc()
        metrics.ANSWER_SECONDS.labels(origin.platform).observe(answer.latency_s)
        return Reply(
            answer.text,
            "declined" if answer.declined else "answer",
            answer_id,
            _sources(answer),
            retrieval_s=answer.retrieval_s,
            generation_s=answer.generation_s,
            grounding=answer.grounding,
            mode=answer.mode,
            model_version=version,
            escalation=answer_id if answer.declined and origin.platform in self.escalate_on else None,
            condensed=answer.condensed,
        )

    def _thread(self, origin: Origin) -> list[str]:
        """The earlier questions of the thread ``origin`` is in, so a follow-up there is understood."""
        if not (origin.channel and origin.thread):
            return []
        return self.records.thread_questions(origin.platform, origin.channel, origin.thread)

    def _record(self, answer: Answer, origin: Origin, version: int | None) -> int:
        return self.records.add_answer(
            question=answer.question,
            condensed=answer.condensed,
            answer=answer.text,
            mode=answer.mode,
            citations=answer.citations,
            passage_ids=[p.id for p in answer.passages],
            declined=answer.declined,
            model_version=version,
            platform=origin.platform,
            channel=origin.channel,
            thread=origin.thread,
            user_hash=self._user_hash(origin),
            latency_s=answer.latency_s,
        )

    def posted(self, reply: Reply, platform: str, channel: str, message_id: str) -> None:
        """Remember that a platform message shows ``reply``, so reactions on it count as votes."""
        if reply.answer_id is not None:
            self.records.link_message(reply.answer_id, platform, channel, message_id)

    # ----------------------------------------------------------------- feedback

    def vote(self, answer_id: int, origin: Origin, vote: int, reason: str | None = None) -> Reply:
        """Record or change a vote (buttons, the console); the reply thanks the voter privately."""
        user_hash = self._user_hash(origin)
        if user_hash is None:
            raise ValueError("a vote needs the voter's user id")
        try:
            reason = (reason or "").strip() or None
            self.records.vote(answer_id, user_hash, vote, reason, simulated=origin.simulated)
        except SupportLoopError:
            return Reply(messages.VOTE_GONE, "error", private=True)
        metrics.VOTES.labels(origin.platform, "up" if vote > 0 else "down").inc()
        offer = vote < 0 and origin.platform in self.escalate_on
        return Reply(
            messages.VOTE_THANKS[vote], "notice", private=True, escalation=answer_id if offer else None
        )

    def react(self, origin: Origin, channel: str, message_id: str, emoji: str, added: bool) -> Reply | None:
        """A 👍/👎 reaction added to or removed from one of our answers gives or withdraws a vote, silently
        (None) but for a newly given 👎: that gets the 👎 button's thanks with "Ask a person", shown in the
        conversation's ``thread``, where someone answers and nobody in that thread has asked yet.

        Removing a reaction withdraws only the vote it gave, so a removed 👍 leaves a later 👎 in place.
        """
        vote = reaction_vote(emoji)
        user_hash = self._user_hash(origin)
        if vote is None or user_hash is None:
            return None
        answer_id = self.records.answer_for_message(origin.platform, channel, message_id)
        if answer_id is None:
            return None
        if not added:
            if self.records.retract(answer_id, user_hash, vote):
                metrics.VOTES.labels(origin.platform, "retracted").inc()
            return None
        current = self.records.feedback(answer_id, user_hash)
        reason = current[1] if current and current[0] == vote else None
        self.records.vote(answer_id, user_hash, vote, reason, simulated=origin.simulated)
        metrics.VOTES.labels(origin.platform, "up" if vote > 0 else "down").inc()
        if vote > 0 or (current and current[0] == vote) or origin.platform not in self.escalate_on:
            return None  # a 👍, a 👎 standing already (Slack delivering it twice, the button's), or no one
        where = self.escalations.unasked(answer_id)
        if where is None:
            return None
        return Reply(messages.VOTE_THANKS[vote], private=True, escalation=answer_id, thread=where[1])

    def give_reason(self, answer_id: int, origin: Origin, reason: str) -> Reply:
        """Attach the optional "what was wrong?" note to the user's 👎; an empty note stores nothing."""
        user_hash = self._user_hash(origin)
        reason = reason.strip()
        if user_hash is None or not reason:
            return self._thanks_for_reason(answer_id, origin)
        if not self.records.set_reason(answer_id, user_hash, reason[:2000]):
            return Reply(messages.REASON_NO_VOTE, "notice", private=True)
        return self._thanks_for_reason(answer_id, origin)

    def _thanks_for_reason(self, answer_id: int, origin: Origin) -> Reply:
        """The thanks after a 👎's note; it offers a person too, since on Discord the 👎 itself gets the
        note's form instead of a reply that could carry the button."""
        offer = answer_id if origin.platform in self.escalate_on else None
        return Reply(messages.REASON_THANKS, "notice", private=True, escalation=offer)

    # ----------------------------------------------------------------- asking a person

    def escalate(self, answer_id: int, origin: Origin, thread: str | None = None) -> Handoff:
        """The "Ask a person" button was pressed under ``answer_id``: claim the thread's one escalation
        and return the request to post, or a private note when the thread has one already (a second
        press, or the platform delivering the click again). ``thread``: where the button was, if the
        answer has none."""
        user_hash = self._user_hash(origin)
        if origin.platform not in self.escalate_on or user_hash is None:
            return Handoff(Reply(messages.ESCALATION_OFF, "notice", private=True))
        claim = self.escalations.claim(answer_id, user_hash, origin.channel, thread)
        if claim is None:
            log.info("a person was asked in this %s thread already", origin.platform)
            return Handoff(Reply(messages.ESCALATED_ALREADY, "notice", private=True))
        metrics.ESCALATIONS.labels(origin.platform).inc()
        text = messages.ESCALATION.format(question=_clipped(claim.question), answer=_clipped(claim.answer))
        return Handoff(Reply(text, "notice"), claim)

    def withdraw(self, claim: Claim) -> Reply:
        """The request could not be posted: drop the claim, so pressing again can succeed."""
        self.escalations.withdraw(claim.id)
        return Reply(messages.ESCALATION_FAILED, "error", private=True)

    # ----------------------------------------------------------------- /supportloop commands

    def needs_admin(self, command: Command) -> bool:
        return command.name in ADMIN_COMMANDS

    def command(
        self, command: Command, origin: Origin, *, is_admin: bool, post: Callable[[str], None]
    ) -> Reply:
        """Run ``/supportloop <command>``; ``post`` puts later lines (job progress) where it was issued."""
        name = command.name
        if name not in COMMANDS:
            return Reply(messages.UNKNOWN_COMMAND.format(command=name, help=messages.HELP), private=True)
        if name == "help":
            return Reply(messages.HELP, private=True)
        if name == "ask":
            return self.ask(command.argument, origin)
        if self.needs_admin(command) and not is_admin:
            log.info("refused %s from a non-admin on %s", name, origin.platform)
            return Reply(messages.ADMIN_ONLY.format(command=name), "error", private=True)
        if self.admin is None:
            return Reply(messages.NO_ADMIN_BACKEND, "error", private=True)
        try:
            if name == "status":  # admins see the deployment's details, everyone else the essentials
                return Reply(format_status(self.admin.status(), full=is_admin), private=True)
            if name == "gaps":
                return Reply(format_gaps(self.admin.gaps()), private=True)
            if name == "rollback":
                if not command.argument.isdigit():
                    return Reply(messages.BAD_VERSION, "error", private=True)
                return Reply(self.admin.rollback(int(command.argument)))
            ticket = self.admin.start_job(name, self._user_hash(origin) or origin.platform, post)
        except SupportLoopError as exc:
            return Reply(str(exc), "error", private=True)
        template = messages.JOB_QUEUED if ticket.will_run else messages.JOB_WAITING
        return Reply(template.format(kind=name, run_id=ticket.run.id))

    def _user_hash(self, origin: Origin) -> str | None:
        if origin.user_id is None:
            return None
        return hash_user(origin.platform, origin.user_id, self.user_hash_key)


def _sources(answer: Answer) -> tuple[Source, ...]:
    titles = {}
    for passage in answer.passages:
        titles.setdefault(passage.source, passage.title)
    return tuple(Source(titles.get(url) or url, url) for url in answer.citations)


def _clipped(text: str, limit: int = 800) -> str:
    """Question or answer text for the request to a person: whole when short, else its start (the
    thread above holds the rest), so the request fits one chat message on every platform."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
