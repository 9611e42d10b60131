"""Answers and votes: what SupportLoop said, and what users thought of it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import func, select

from core.database import Database
from core.errors import SupportLoopError
from core.tables import AnswerRecord, FeedbackRecord


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

    def vote(self, answer_id: int, user_hash: str, vote: int, reason: str | None = None) -> None:
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
                    FeedbackRecord(answer_id=answer_id, user_hash=user_hash, vote=vote, reason=reason)
                )
            else:
                record.vote, record.retracted = vote, False
                record.reason = reason if vote < 0 else None
            session.commit()

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
