"""Escalations: a user asked for a person, once per thread, and an admin takes it from the console.

A request is *claimed* (a row inserted under the one-per-thread unique constraint) before anything is
posted, so two presses of "Ask a person", a re-delivered click, or two bot replicas handling the same
click summon the team once: only the insert that wins posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.database import Database
from core.redact import redact
from core.tables import AnswerMessageRecord, AnswerRecord, EscalationRecord, utcnow

STATUSES = ("open", "taken", "closed")


@dataclass(frozen=True)
class Claim:
    """A won claim: where to post the request, and what it is about."""

    id: int
    channel: str
    thread: str
    question: str
    answer: str


@dataclass(frozen=True)
class EscalationView:
    """An escalation as the console lists it, with the question and answer it is about."""

    id: int
    answer_id: int
    platform: str
    channel: str
    thread: str
    question: str
    answer: str
    status: str
    created_at: datetime
    taken_by: str | None
    taken_at: datetime | None


class Escalations:
    """Claims, lists and updates escalation rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(
        self, answer_id: int, requested_by: str, channel: str | None, thread: str | None
    ) -> Claim | None:
        """Record a request for a person about ``answer_id``; None if its thread has one already, or the
        answer is unknown. ``channel`` and ``thread``: where the button was (see ``_conversation``)."""
        with self.db.session() as session:
            answer = session.get(AnswerRecord, answer_id)
            where = _conversation(session, answer, channel, thread) if answer else None
            if answer is None or where is None:
                return None
            record = EscalationRecord(
                answer_id=answer_id,
                platform=answer.platform,
                channel=where[0],
                thread=where[1],
                requested_by=requested_by,
                status="open",
            )
            session.add(record)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return None
            return Claim(record.id, where[0], where[1], answer.question, answer.answer)

    def unasked(self, answer_id: int) -> tuple[str, str] | None:
        """The channel and thread of ``answer_id``'s conversation while nobody has asked for a person
        there; None once someone has (or for an unknown answer), since offering "Ask a person" again
        would only lead to "already asked"."""
        with self.db.session() as session:
            answer = session.get(AnswerRecord, answer_id)
            where = _conversation(session, answer, None, None) if answer else None
            if answer is None or where is None:
                return None
            asked = session.scalars(
                select(EscalationRecord.id).where(
                    EscalationRecord.platform == answer.platform,
                    EscalationRecord.channel == where[0],
                    EscalationRecord.thread == where[1],
                )
            ).first()
            return where if asked is None else None

    def withdraw(self, escalation_id: int) -> None:
        """Forget a claim whose request could not be posted, so the user can press the button again."""
        with self.db.session() as session:
            record = session.get(EscalationRecord, escalation_id)
            if record is not None and record.status == "open":
                session.delete(record)
                session.commit()

    def take(self, escalation_id: int, taken_by: str) -> bool:
        """Mark an open escalation as taken by ``taken_by``; False if it is not open (someone was first)."""
        with self.db.session() as session:
            done = session.execute(
                update(EscalationRecord)
                .where(EscalationRecord.id == escalation_id, EscalationRecord.status == "open")
                .values(status="taken", taken_by=taken_by[:128], taken_at=utcnow())
            )
            session.commit()
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def close(self, escalation_id: int) -> bool:
        """Mark an escalation as closed (the person has helped); False if it was closed or unknown."""
        with self.db.session() as session:
            done = session.execute(
                update(EscalationRecord)
                .where(EscalationRecord.id == escalation_id, EscalationRecord.status != "closed")
                .values(status="closed")
            )
            session.commit()
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def listed(self, status: str, limit: int = 100) -> list[EscalationView]:
        """Escalations with ``status``, newest first, with their question and answer, redacted as the
        console shows every conversation (the thread itself shows them as asked)."""
        with self.db.session() as session:
            rows = session.execute(
                select(EscalationRecord, AnswerRecord.question, AnswerRecord.answer)
                .join(AnswerRecord, AnswerRecord.id == EscalationRecord.answer_id)
                .where(EscalationRecord.status == status)
                .order_by(EscalationRecord.id.desc())
                .limit(limit)
            ).all()
        return [
            EscalationView(
                e.id,
                e.answer_id,
                e.platform,
                e.channel,
                e.thread,
                redact(question),
                redact(answer),
                e.status,
                e.created_at,
                e.taken_by,
                e.taken_at,
            )
            for e, question, answer in rows
        ]


def _conversation(
    session: Session, answer: AnswerRecord, channel: str | None, thread: str | None
) -> tuple[str, str] | None:
    """The channel and thread that key ``answer``'s one escalation; None if neither is known.

    The thread is the answer's own (where it was asked), else the first message showing the answer
    (a reply to it starts the thread), else ``thread``; the channel likewise falls back to
    ``channel``. So however the button was reached (on the answer, or on a private note after a 👎),
    the same conversation gets the same key.
    """
    first_message = session.scalars(
        select(AnswerMessageRecord.message)
        .where(AnswerMessageRecord.answer_id == answer.id)
        .order_by(AnswerMessageRecord.id)
        .limit(1)
    ).first()
    where_channel = answer.channel or channel
    where_thread = answer.thread or first_message or thread
    return (where_channel, where_thread) if where_channel and where_thread else None
