"""What users asked and how they voted, read back for the admin console and the knowledge-gap report.

Everything leaving this module is redacted as training data is (emails, tokens, phone numbers become
placeholders): the people reading the console need the question, not the customer's credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import Select, exists, select

from core.database import Database
from core.redact import redact
from core.tables import AnswerRecord, FeedbackRecord

VoteFilter = Literal["", "up", "down", "unvoted", "declined"]


@dataclass(frozen=True)
class ConversationFilter:
    """Which conversations to list; empty fields do not filter. Dates are UTC days, both inclusive."""

    vote: VoteFilter = ""
    platform: str = ""
    since: date | None = None
    until: date | None = None
    limit: int = 100


@dataclass(frozen=True)
class Conversation:
    """One answered (or declined) question with its standing votes and the 👎 reasons given."""

    id: int
    created_at: datetime
    platform: str
    question: str
    condensed: str | None  # what a thread's follow-up was answered as, shown under it
    answer: str
    sources: list[str]
    declined: bool
    model_version: int | None
    upvotes: int = 0
    downvotes: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Downvote:
    """A 👎 with the question and answer it was about; ``reason`` is None when the user gave none."""

    answer_id: int
    question: str
    answer: str
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Unhelped:
    """A question the bot could not help with: it declined, or a user voted the answer down."""

    answer_id: int
    question: str
    declined: bool
    reasons: list[str]


def _standing_vote(vote: int) -> Select[tuple[int]]:
    return select(FeedbackRecord.id).where(
        FeedbackRecord.answer_id == AnswerRecord.id,
        FeedbackRecord.vote == vote,
        FeedbackRecord.retracted.is_(False),
    )


def conversations(db: Database, wanted: ConversationFilter) -> list[Conversation]:
    """The newest conversations matching ``wanted``, newest first."""
    query = select(AnswerRecord).order_by(AnswerRecord.id.desc()).limit(wanted.limit)
    if wanted.platform:
        query = query.where(AnswerRecord.platform == wanted.platform)
    if wanted.since is not None:
        query = query.where(AnswerRecord.created_at >= datetime.combine(wanted.since, time(), UTC))
    if wanted.until is not None:
        end = datetime.combine(wanted.until + timedelta(days=1), time(), UTC)
        query = query.where(AnswerRecord.created_at < end)
    if wanted.vote == "up":
        query = query.where(exists(_standing_vote(1)))
    elif wanted.vote == "down":
        query = query.where(exists(_standing_vote(-1)))
    elif wanted.vote == "unvoted":
        query = query.where(~exists(_standing_vote(1)), ~exists(_standing_vote(-1)))
    elif wanted.vote == "declined":
        query = query.where(AnswerRecord.declined.is_(True))
    with db.session() as session:
        answers = list(session.scalars(query))
        votes = session.execute(
            select(FeedbackRecord.answer_id, FeedbackRecord.vote, FeedbackRecord.reason).where(
                FeedbackRecord.answer_id.in_([a.id for a in answers]), FeedbackRecord.retracted.is_(False)
            )
        ).all()
    tally: dict[int, tuple[int, int, list[str]]] = {}
    for answer_id, vote, reason in votes:
        up, down, reasons = tally.get(answer_id, (0, 0, []))
        shown = [redact(reason)] if reason else []
        tally[answer_id] = (up + (vote > 0), down + (vote < 0), reasons + shown)
    return [
        Conversation(
            id=a.id,
            created_at=a.created_at,
            platform=a.platform,
            question=redact(a.question),
            condensed=redact(a.condensed) if a.condensed else None,
            answer=redact(a.answer),
            sources=list(a.citations or []),
            declined=a.declined,
            model_version=a.model_version,
            upvotes=tally.get(a.id, (0, 0, []))[0],
            downvotes=tally.get(a.id, (0, 0, []))[1],
            reasons=tally.get(a.id, (0, 0, []))[2],
        )
        for a in answers
    ]


def platforms(db: Database) -> list[str]:
    """The platforms questions came from, for the conversations filter."""
    with db.session() as session:
        return sorted(session.scalars(select(AnswerRecord.platform).distinct()))


def last_downvote(db: Database) -> Downvote | None:
    """The most recent standing 👎, preferring one with a reason (the reason is what an admin acts on)."""
    query = (
        select(FeedbackRecord, AnswerRecord)
        .join(AnswerRecord, AnswerRecord.id == FeedbackRecord.answer_id)
        .where(FeedbackRecord.vote == -1, FeedbackRecord.retracted.is_(False))
        .order_by(FeedbackRecord.reason.is_(None), FeedbackRecord.id.desc())
        .limit(1)
    )
    with db.session() as session:
        row = session.execute(query).first()
    if row is None:
        return None
    vote, answer = row
    return Downvote(
        answer.id,
        redact(answer.question),
        redact(answer.answer),
        redact(vote.reason) if vote.reason else None,
        vote.created_at,
    )


def unhelped(db: Database, limit: int = 2000) -> list[Unhelped]:
    """The newest declined or 👎 questions, with the reasons users gave, for the knowledge-gap report."""
    query = (
        select(AnswerRecord)
        .where(AnswerRecord.declined.is_(True) | exists(_standing_vote(-1)))
        .order_by(AnswerRecord.id.desc())
        .limit(limit)
    )
    with db.session() as session:
        answers = list(session.scalars(query))
        reasons = session.execute(
            select(FeedbackRecord.answer_id, FeedbackRecord.reason).where(
                FeedbackRecord.answer_id.in_([a.id for a in answers]),
                FeedbackRecord.vote == -1,
                FeedbackRecord.retracted.is_(False),
                FeedbackRecord.reason.is_not(None),
            )
        ).all()
    by_answer: dict[int, list[str]] = {}
    for answer_id, reason in reasons:
        by_answer.setdefault(answer_id, []).append(redact(reason))
    return [
        Unhelped(a.id, redact(a.standalone_question), a.declined, by_answer.get(a.id, [])) for a in answers
    ]
