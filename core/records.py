"""Answers and votes: what SupportLoop said, and what users thought of it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.database import Database
from core.errors import SupportLoopError
from core.redact import redact
from core.tables import AnswerMessageRecord, AnswerRecord, FeedbackRecord, HandledEventRecord

MAX_ID = 2**63 - 1  # the largest integer a database column holds; larger ids name no answer
ID_BATCH = 500  # ids per IN (…) query, well under every database's limit on parameters


def hash_user(platform: str, user_id: str, key: str) -> str:
    """A keyed hash of a platform user id: votes stay one per person without storing who they are."""
    return hmac.new(key.encode(), f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ImportedVote:
    """A vote read from a file (``supportloop votes import``), its user already hashed."""

    answer_id: int
    user_hash: str
    vote: int
    reason: str | None = None


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
                        reason=_stored_reason(reason),
                        simulated=simulated,
                        source="simulated" if simulated else "platform",
                    )
                )
            else:
                record.vote, record.retracted = vote, False
                record.reason = _stored_reason(reason) if vote < 0 else None
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
            record.reason = _stored_reason(reason)
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
        return bool(self.thread_questions(platform, channel, thread, limit=1))

    def thread_questions(self, platform: str, channel: str, thread: str, limit: int = 5) -> list[str]:
        """The last ``limit`` questions asked in this thread, oldest first: what a follow-up there is
        understood against (``rag.condense``)."""
        with self.db.session() as session:
            questions = session.scalars(
                select(AnswerRecord.question)
                .where(
                    AnswerRecord.platform == platform,
                    AnswerRecord.channel == channel,
                    AnswerRecord.thread == thread,
                )
                .order_by(AnswerRecord.id.desc())
                .limit(limit)
            ).all()
        return list(reversed(questions))

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

    def missing_answers(self, answer_ids: Iterable[int]) -> set[int]:
        """Those of ``answer_ids`` that no stored answer has (ids beyond the database's integers included)."""
        wanted = set(answer_ids)
        found: set[int] = set()
        storable = sorted(i for i in wanted if 0 < i <= MAX_ID)
        with self.db.session() as session:
            for start in range(0, len(storable), ID_BATCH):
                batch = storable[start : start + ID_BATCH]
                found.update(session.scalars(select(AnswerRecord.id).where(AnswerRecord.id.in_(batch))))
        return wanted - found

    def import_votes(self, votes: Sequence[ImportedVote]) -> tuple[int, int]:
        """Store votes from a file in one transaction, as platform votes are stored: one per user and
        answer, a later vote replacing an earlier one (in the file or in the database). Returns how many
        were added and how many replaced a stored vote."""
        latest = {(v.answer_id, v.user_hash): v for v in votes}  # the file's own later votes win
        added = replaced = 0
        with self.db.session() as session, session.begin():
            stored: dict[tuple[int, str], FeedbackRecord] = {}
            answer_ids = sorted({answer_id for answer_id, _ in latest})
            for start in range(0, len(answer_ids), ID_BATCH):
                query = select(FeedbackRecord).where(
                    FeedbackRecord.answer_id.in_(answer_ids[start : start + ID_BATCH])
                )
                stored.update({(r.answer_id, r.user_hash): r for r in session.scalars(query)})
            for key, v in latest.items():
                record = stored.get(key)
                if record is None:
                    record = FeedbackRecord(answer_id=v.answer_id, user_hash=v.user_hash)
                    session.add(record)
                    added += 1
                else:
                    replaced += 1
                record.vote, record.reason, record.retracted = v.vote, _stored_reason(v.reason), False
                record.simulated, record.source = False, "import"
        return added, replaced

    def export_votes(self) -> list[dict[str, object]]:
        """Every standing vote, oldest first, with its hashed user and where it came from; reasons are
        redacted again on the way out, for rows stored before reasons were redacted on the way in."""
        with self.db.session() as session:
            standing = FeedbackRecord.retracted.is_(False)
            query = select(FeedbackRecord).where(standing).order_by(FeedbackRecord.id)
            return [
                {"answer_id": r.answer_id, "user": r.user_hash, "vote": r.vote, "source": r.source}
                | ({"reason": redact(r.reason)} if r.reason else {})
                for r in session.scalars(query)
            ]

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


def _stored_reason(reason: str | None) -> str | None:
    """A 👎 reason as it may be stored: users type their email or phone number into it, and every
    reader (training, export, the console) should never see those, so they never reach the database."""
    return redact(reason) if reason else None


def _standing(session: Session, answer_id: int, user_hash: str) -> FeedbackRecord | None:
    """The user's vote on the answer unless it was withdrawn."""
    return session.scalars(
        select(FeedbackRecord).where(
            FeedbackRecord.answer_id == answer_id,
            FeedbackRecord.user_hash == user_hash,
            FeedbackRecord.retracted.is_(False),
        )
    ).first()
