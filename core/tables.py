"""The database schema, as SQLAlchemy 2 declarative tables.

Alembic migrations under ``core/migrations`` create and evolve these tables; a test checks that the
migrated schema matches this module exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class AnswerRecord(Base):
    """A question and the answer SupportLoop gave, with what it was based on."""

    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[str]] = mapped_column(JSON, default=list)
    passage_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    declined: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(128), nullable=True)
    thread: Mapped[str | None] = mapped_column(String(128), nullable=True)
    user_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    latency_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The composite reward's breakdown (satisfaction, factual_accuracy, ethics, total, reward_model),
    # filled in by the scheduler's collect job; empty until then.
    reward: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    # The standalone question a thread's follow-up was answered as (``rag.condense``); None otherwise.
    condensed: Mapped[str | None] = mapped_column(Text, nullable=True)
    # How the answer was made (``rag.answerer.Answer.mode``): "extractive", "preferred" (the reward model's
    # pick among the composer's alternatives), "explored", "generate", "decline", "refuse"; None before 0009.
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)

    __table_args__ = (Index("ix_answers_thread", "platform", "channel", "thread"),)

    @property
    def standalone_question(self) -> str:
        """What was asked, as a question that stands alone: what a reward model or a gap report reads
        ("and on the app?" alone names no subject), while the console shows both."""
        return self.condensed or self.question


class AnswerMessageRecord(Base):
    """A platform message that shows (part of) an answer, so a reaction on it counts as a vote."""

    __tablename__ = "answer_messages"
    __table_args__ = (UniqueConstraint("platform", "channel", "message", name="uq_answer_messages_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(String(128))


class HandledEventRecord(Base):
    """A platform event already handled: Slack re-delivers late-acked events and Socket Mode replays after
    a reconnect, so each event is claimed here once (across processes) before it is answered."""

    __tablename__ = "handled_events"
    __table_args__ = (UniqueConstraint("key", name="uq_handled_events_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedbackRecord(Base):
    """One user's vote on one answer; a changed vote updates the row, a removed one retracts it."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("answer_id", "user_hash", name="uq_feedback_answer_user"),
        CheckConstraint("vote IN (-1, 1)", name="ck_feedback_vote"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    user_hash: Mapped[str] = mapped_column(String(64))
    vote: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # platform | simulated | import (``supportloop votes import``)
    source: Mapped[str] = mapped_column(String(16), default="platform", server_default="platform")


class ModelVersionRecord(Base):
    """A model version on disk; exactly one is current (a partial unique index guarantees it)."""

    __tablename__ = "model_versions"
    __table_args__ = (
        Index(
            "uq_model_versions_one_current",
            "is_current",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), nullable=True)
    path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    audit_status: Mapped[str] = mapped_column(String(32), default="pending")
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


class JobRunRecord(Base):
    """One run of a long job (crawl, training, audit): who asked for it, and how it went.

    ``status`` goes queued → running → succeeded | failed; a queued run waits for a worker that knows
    its ``kind``.
    """

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    requested_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=utcnow, nullable=True
    )
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)  # "host:pid:started", while run
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LeaseRecord(Base):
    """Who holds a named lease (e.g. running the scheduler) and until when; see ``core.lease``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EscalationRecord(Base):
    """A user asked for a person in a thread: who asked, and which admin took it.

    One per thread (the unique constraint), so a second press of "Ask a person" or a re-delivered click
    cannot summon the team twice. ``status`` goes open → taken → closed.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("platform", "channel", "thread", name="uq_escalations_thread"),
        CheckConstraint("status IN ('open', 'taken', 'closed')", name="ck_escalations_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    thread: Mapped[str] = mapped_column(String(128))
    requested_by: Mapped[str] = mapped_column(String(64))  # the asker's user hash
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")
    taken_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
