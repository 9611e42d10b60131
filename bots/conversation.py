"""The platform-neutral conversation service.

Everything a user sees is decided here, once, for every platform: the answer, its sources, whether it
declined, and what a vote does. Adapters (console, Slack, Discord) only translate events in and
replies out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.records import Records, hash_user

if TYPE_CHECKING:
    from rag.answerer import Answerer


@dataclass(frozen=True)
class Origin:
    """Who asked, and where: the platform's own ids (hashed before they are stored)."""

    platform: str
    user_id: str | None = None
    channel: str | None = None
    thread: str | None = None


@dataclass(frozen=True)
class Reply:
    answer_id: int
    text: str
    sources: list[str]
    declined: bool
    retrieval_s: float
    generation_s: float

    @property
    def latency_s(self) -> float:
        return self.retrieval_s + self.generation_s


VOTE_WORDS = {"+": 1, "👍": 1, "+1": 1, "y": 1, "yes": 1, "-": -1, "👎": -1, "-1": -1, "n": -1, "no": -1}


def parse_vote(text: str) -> int | None:
    """+1 or -1 for a thumbs-up/down in any of its spellings; None for anything else."""
    return VOTE_WORDS.get(text.strip().lower())


class ConversationService:
    """Answers questions and records votes, the same way for every platform."""

    def __init__(
        self,
        answerer: Answerer,
        records: Records,
        model_version: Callable[[], int | None],
        user_hash_key: str,
    ) -> None:
        self.answerer = answerer
        self.records = records
        self.model_version = model_version
        self.user_hash_key = user_hash_key

    def ask(self, question: str, origin: Origin) -> Reply:
        answer = self.answerer.answer(question)
        answer_id = self.records.add_answer(
            question=answer.question,
            answer=answer.text,
            citations=answer.citations,
            passage_ids=[p.id for p in answer.passages],
            declined=answer.declined,
            model_version=self.model_version(),
            platform=origin.platform,
            channel=origin.channel,
            thread=origin.thread,
            user_hash=self._user_hash(origin),
            latency_s=answer.latency_s,
        )
        return Reply(
            answer_id, answer.text, answer.citations, answer.declined, answer.retrieval_s, answer.generation_s
        )

    def vote(self, answer_id: int, origin: Origin, vote: int, reason: str | None = None) -> None:
        user_hash = self._user_hash(origin)
        if user_hash is None:
            raise ValueError("a vote needs the voter's user id")
        self.records.vote(answer_id, user_hash, vote, reason)

    def _user_hash(self, origin: Origin) -> str | None:
        if origin.user_id is None:
            return None
        return hash_user(origin.platform, origin.user_id, self.user_hash_key)
