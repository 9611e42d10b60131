"""Answers and votes: what SupportLoop said, and what users thought of it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.database import Database
from core.errors import SupportLoopError
from core.tables import AnswerMessageRecord, AnswerRecord, FeedbackRecord, HandledEventRecord


def hash_user(platform: str, user_id: str, key: str) -> str:
    """A keyed hash of a platform user id: votes stay one per person without storing who they are."""
    return hmac.new(key.encode(), f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Counts:
    answers: int
    votes: int
    upvotes: int
    downvotes: int


class Records:
    """Writes and reads answers and feedback."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_answer(self, **fields: object) -> int:
        with self.db.session() as session:
            record = AnswerRecord(**fields)
            session.add(record)
            session.commit()
            return record.id

    def unscored_answers(self, limit: int) -> list[AnswerRecord]:
        """Answers (not declines) without a reward breakdown yet, oldest first."""
        with self.db.session() as session:
            query = (
                select(AnswerRecord)
                .where(AnswerRecord.reward.is_(None), AnswerRecord.declined.is_(False))
                .order_by(AnswerRecord.id)
                .limit(limit)
            )
            return list(session.scalars(query))

    def store_reward(self, answer_id: int, breakdown: dict[str, object]) -> None:
        with self.db.session() as session:
            answer = session.get(AnswerRecord, answer_id)
            if answer is not None:
                answer.reward = breakdown
                session.commit()

    def vote(
        self, answer_id: int, user_hash: str, vote: int, reason: str | None = None, *, simulated: bool = False
    ) -> None:
        """Record or change one user's vote on one answer (one vote per user per answer)."""
        if vote not in (-1, 1):
            raise SupportLoopError("A vote is +1 (👍) or -1 (👎).")
        with self.db.session() as session:
            if session.get(AnswerRecord, answer_id) is None:
                raise SupportLoopError(f"There is no answer {answer_id} to vote on.")
            record = session.scalars(
                select(FeedbackRecord).where(
                    FeedbackRecord.answer_id == answer_id, FeedbackRecord.user_hash == user_hash
                )
            ).first()
            if record is None:
                session.add(
                    FeedbackRecord(
                        answer_id=answer_id,
                        user_hash=user_hash,
                        vote=vote,
                        reason=reason,
                        simulated=simulated,
                        source="simulated" if simulated else "platform",
                    )
                )
            else:
                record.vote, record.retracted = vote, False
                record.reason = reason if vote < 0 else None
            session.commit()

    def retract(self, answer_id: int, user_hash: str, vote: int | None = None) -> bool:
        """Withdraw a user's vote (only if it is ``vote``, when given); True if a vote was withdrawn.

        A removed 👍 reaction must not cancel the 👎 the same user chose later with a button, hence ``vote``.
        """
        with self.db.session() as session:
            record = _standing(session, answer_id, user_hash)
            if record is None or (vote is not None and record.vote != vote):
                return False
            record.retracted = True
            session.commit()
            return True

    def set_reason(self, answer_id: int, user_hash: str, reason: str) -> bool:
        """Attach a reason to the user's standing 👎 on an answer; False if there is none to attach it to."""
        with self.db.session() as session:
            record = _standing(session, answer_id, user_hash)
            if record is None or record.vote != -1:
                return False
            record.reason = reason
            session.commit()
            return True

    def feedback(self, answer_id: int, user_hash: str) -> tuple[int, str | None] | None:
        """The user's standing vote and reason on an answer, or None."""
        with self.db.session() as session:
            record = _standing(session, answer_id, user_hash)
            return None if record is None else (record.vote, record.reason)

    def link_message(self, answer_id: int, platform: str, channel: str, message: str) -> None:
        """Remember that a platform message shows this answer (a reaction on it is a vote on the answer)."""
        with self.db.session() as session:
            session.add(
                AnswerMessageRecord(answer_id=answer_id, platform=platform, channel=channel, message=message)
            )
            try:
                session.commit()
            except IntegrityError:  # linked already
                session.rollback()

    def answer_for_message(self, platform: str, channel: str, message: str) -> int | None:
        with self.db.session() as session:
            return session.scalars(
                select(AnswerMessageRecord.answer_id).where(
                    AnswerMessageRecord.platform == platform,
                    AnswerMessageRecord.channel == channel,
                    AnswerMessageRecord.message == message,
                )
            ).first()

    def answered_thread(self, platform: str, channel: str, thread: str) -> bool:
        """Whether SupportLoop has answered in this thread (so follow-ups there need no mention)."""
        with self.db.session() as session:
            found = session.scalars(
                select(AnswerRecord.id)
                .where(
                    AnswerRecord.platform == platform,
                    AnswerRecord.channel == channel,
                    AnswerRecord.thread == thread,
                )
                .limit(1)
            ).first()
            return found is not None

    def claim_event(self, key: str) -> bool:
        """True the first time ``key`` is claimed, False ever after (in any process sharing the database)."""
        with self.db.session() as session:
            session.add(HandledEventRecord(key=key[:255]))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True

    def counts(self) -> Counts:
        with self.db.session() as session:
            answers = session.scalar(select(func.count()).select_from(AnswerRecord)) or 0
            rows = session.execute(
                select(FeedbackRecord.vote, func.count())
                .where(FeedbackRecord.retracted.is_(False))
                .group_by(FeedbackRecord.vote)
            ).all()
        by_vote = {vote: count for vote, count in rows}
        up, down = by_vote.get(1, 0), by_vote.get(-1, 0)
        return Counts(answers=answers, votes=up + down, upvotes=up, downvotes=down)


def _standing(session: Session, answer_id: int, user_hash: str) -> FeedbackRecord | None:
    """The user's vote on the answer unless it was withdrawn."""
    return session.scalars(
        select(FeedbackRecord).where(
            FeedbackRecord.answer_id == answer_id,
            FeedbackRecord.user_hash == user_hash,
            FeedbackRecord.retracted.is_(False),
        )
    ).first()
