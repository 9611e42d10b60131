"""From stored 👍/👎 to training data: labelled answers, preference pairs, and a held-out split.

- Votes: one per user per answer (the storage guarantees it); withdrawn votes don't count. An answer's
  label is the majority of its votes; a tie says nothing and is left out.
- Pairs for a pairwise reward model: two answers to the same or a near-duplicate question (same content
  words, Jaccard ≥ ``NEAR_DUPLICATE``), one liked and one disliked.
- Held out by question: near-duplicates stay on the same side, so the test set measures answers to
  questions the model has not seen. ``test_fraction`` of the question groups, raised to
  ``min_test_groups`` (the promotion gate's least number of held-out questions) while that leaves at
  least half the groups for training. ``cross_folds`` splits the same way k times (the fast path's
  cross-fitted check).
- Questions are redacted (emails, phone numbers, tokens) before anything uses them.
- Simulated votes are only used when asked for, never mixed in silently.
- The audit's counter-examples (fairness pairs and adversarial hacks the last reward model got wrong)
  join the training side only, counted in the dataset's decisions.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import product
from typing import Literal

from sqlalchemy import select

from audit.fairness import CounterExample
from core.database import Database
from core.errors import SupportLoopError
from core.redact import redact
from core.tables import AnswerRecord, FeedbackRecord
from rag.text import tokens

NEAR_DUPLICATE = 0.75  # Jaccard similarity of content words above which two questions count as one
MAX_PAIRS_PER_QUESTION = 20  # so one popular question doesn't dominate the pairs
Source = Literal["real", "simulated", "all"]


@dataclass(frozen=True)
class LabelledAnswer:
    answer_id: int
    question: str  # redacted
    answer: str
    passage_ids: list[str]
    upvotes: int
    downvotes: int
    reasons: list[str]  # what 👎 voters said was wrong (redacted)

    @property
    def label(self) -> int:
        """1 when most voters liked the answer, else 0."""
        return int(self.upvotes > self.downvotes)


@dataclass(frozen=True)
class PreferencePair:
    question: str
    chosen: LabelledAnswer
    rejected: LabelledAnswer


@dataclass(frozen=True)
class FeedbackDataset:
    train: list[LabelledAnswer]
    test: list[LabelledAnswer]
    train_pairs: list[PreferencePair]
    test_pairs: list[PreferencePair]
    votes: int  # votes behind the labels
    source: Source
    decisions: dict[str, object] = field(default_factory=dict)  # what was filtered and why, for reports


def require_both_labels(answers: Sequence[LabelledAnswer]) -> None:
    """Raise a ``SupportLoopError`` unless some of ``answers`` are liked by most voters and some disliked.

    The message says how this happens in practice: an answer's label is the majority of its votes, so
    when users are only ever served the default answers (``SUPPORTLOOP_EXPLORE_SHARE`` 0), a taste
    those answers miss leaves every answer 👎 however many 👍 were cast, and no reward model can learn
    which other answer users would like."""
    if len({a.label for a in answers}) > 1:
        return
    up, down = sum(a.upvotes for a in answers), sum(a.downvotes for a in answers)
    side = "👍" if answers and answers[0].label else "👎"
    raise SupportLoopError(
        f"Training needs both 👍 and 👎 answers, but most voters gave {side} on every one of the "
        f"{len(answers)} answers it trains on ({up} 👍 and {down} 👎 on them). Users vote only on "
        "what they are served: set SUPPORTLOOP_EXPLORE_SHARE (for example 0.15) so that some of them "
        "see the composer's other answers, then collect more votes."
    )


def build_dataset(
    db: Database,
    *,
    source: Source = "real",
    test_fraction: float = 0.2,
    min_votes: int = 50,
    min_test_groups: int = 0,
) -> FeedbackDataset:
    """Read the feedback and build the dataset; raise a ``SupportLoopError`` when there is too little."""
    labelled, votes, ties = _labelled_answers(db, source)
    if votes < min_votes:
        which = {"real": "real ", "simulated": "simulated ", "all": ""}[source]
        hint = "Collect more feedback (or, for a trial, run `supportloop simulate --votes N`)."
        if source == "real" and _labelled_answers(db, "simulated")[1] >= min_votes:
            hint = "To train on the simulated votes, set SUPPORTLOOP_RETRAIN_FEEDBACK=simulated."
        raise SupportLoopError(f"Training needs at least {min_votes} {which}votes; there are {votes}. {hint}")
    groups = _group_questions(labelled)
    test_keys = _held_out(list(groups), test_fraction, min_test_groups)
    return _split(
        groups,
        test_keys,
        votes,
        source,
        {
            "source": source,
            "votes": votes,
            "answers_labelled": len(labelled),
            "answers_tied_and_dropped": ties,
            "question_groups": len(groups),
            "held_out_groups": len(test_keys),
            "test_fraction": test_fraction,
            "min_held_out_groups": min_test_groups,
            "near_duplicate_jaccard": NEAR_DUPLICATE,
            "max_pairs_per_question": MAX_PAIRS_PER_QUESTION,
            "redacted": "emails, phone numbers, tokens",
        },
    )


def cross_folds(data: FeedbackDataset, k: int) -> list[FeedbackDataset]:
    """``data``'s answers, both sides together, split ``k`` ways by question group (near-duplicates
    together): fold ``i`` holds out every ``k``-th group in a fixed order and trains on the rest.

    Why: a fixed held-out fifth of 300 votes leaves ~10 pairs, too few for a bootstrap to tell a real
    gain from luck. Each answer held out once, by a model that never saw its question, measures how
    the same training does on unseen questions with every vote (cross-fitting).
    """
    if k < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, not {k}")
    groups = _group_questions(data.train + data.test)
    ranked = sorted(groups, key=_order)
    return [
        _split(groups, set(ranked[i::k]), data.votes, data.source, {**data.decisions, "fold": f"{i + 1}/{k}"})
        for i in range(k)
    ]


def _split(
    groups: dict[str, list[LabelledAnswer]],
    test_keys: set[str],
    votes: int,
    source: Source,
    decisions: dict[str, object],
) -> FeedbackDataset:
    """The dataset holding out ``test_keys``' question groups."""
    return FeedbackDataset(
        train=[a for key, answers in groups.items() if key not in test_keys for a in answers],
        test=[a for key, answers in groups.items() if key in test_keys for a in answers],
        train_pairs=[p for key in groups if key not in test_keys for p in _pairs(groups[key])],
        test_pairs=[p for key in groups if key in test_keys for p in _pairs(groups[key])],
        votes=votes,
        source=source,
        decisions=decisions,
    )


def with_counter_examples(data: FeedbackDataset, examples: Sequence[CounterExample]) -> FeedbackDataset:
    """``data`` with the audit's counter-examples added to the training answers (and pairs)."""
    if not examples:
        return replace(
            data, decisions={**data.decisions, "audit_counter_examples": 0, "audit_counter_pairs": 0}
        )
    added = [
        LabelledAnswer(-n, redact(e.question), e.answer, [], e.label, 1 - e.label, [])
        for n, e in enumerate(examples, start=1)
    ]
    by_question: dict[str, list[LabelledAnswer]] = defaultdict(list)
    for answer in added:
        by_question[answer.question].append(answer)
    pairs = [p for answers in by_question.values() for p in _pairs(answers)]
    decisions = {**data.decisions, "audit_counter_examples": len(added), "audit_counter_pairs": len(pairs)}
    return replace(data, train=data.train + added, train_pairs=data.train_pairs + pairs, decisions=decisions)


def _labelled_answers(db: Database, source: Source) -> tuple[list[LabelledAnswer], int, int]:
    query = (
        select(AnswerRecord, FeedbackRecord)
        .join(FeedbackRecord, FeedbackRecord.answer_id == AnswerRecord.id)
        .where(FeedbackRecord.retracted.is_(False))
        .order_by(AnswerRecord.id)
    )
    if source != "all":
        query = query.where(FeedbackRecord.simulated.is_(source == "simulated"))
    # The same text served for the same question is one answer, whichever record it was served as: its
    # votes are pooled into one label (a majority of several users), instead of duplicates whose single
    # votes disagree by chance.
    by_answer: dict[tuple[str, str], tuple[AnswerRecord, list[FeedbackRecord]]] = {}
    with db.session() as session:
        for answer, vote in session.execute(query):
            key = (answer.standalone_question.strip().lower(), " ".join(answer.answer.split()))
            by_answer.setdefault(key, (answer, []))[1].append(vote)
    labelled, votes, ties = [], 0, 0
    for answer, feedback in by_answer.values():
        up = sum(f.vote > 0 for f in feedback)
        down = len(feedback) - up
        votes += len(feedback)
        if up == down:
            ties += 1
            continue
        labelled.append(
            LabelledAnswer(
                answer_id=answer.id,
                question=redact(answer.standalone_question),
                answer=answer.answer,
                passage_ids=list(answer.passage_ids or []),
                upvotes=up,
                downvotes=down,
                reasons=[redact(f.reason) for f in feedback if f.vote < 0 and f.reason],
            )
        )
    return labelled, votes, ties


def _group_questions(answers: list[LabelledAnswer]) -> dict[str, list[LabelledAnswer]]:
    """Answers grouped by question, near-duplicates together; keyed by the group's first question."""
    groups: dict[str, list[LabelledAnswer]] = defaultdict(list)
    words: dict[str, set[str]] = {}
    for answer in answers:
        mine = set(tokens(answer.question))
        key = next((k for k, theirs in words.items() if _jaccard(mine, theirs) >= NEAR_DUPLICATE), None)
        if key is None:
            key = answer.question.strip().lower()
            words[key] = mine
        groups[key].append(answer)
    return dict(groups)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _held_out(keys: list[str], fraction: float, at_least: int) -> set[str]:
    """A deterministic ``fraction`` of the question groups (at least one when there are two or more),
    or ``at_least`` of them if that is more and leaves half for training."""
    if len(keys) < 2 or fraction <= 0:
        return set()
    ranked = sorted(keys, key=_order)
    return set(ranked[: max(1, math.ceil(fraction * len(keys)), min(at_least, len(keys) // 2))])


def _order(key: str) -> str:
    """A question group's place in a fixed order unrelated to its text's meaning."""
    return hashlib.sha256(key.encode()).hexdigest()


def _pairs(answers: list[LabelledAnswer]) -> list[PreferencePair]:
    liked = [a for a in answers if a.label == 1]
    disliked = [a for a in answers if a.label == 0]
    return [
        PreferencePair(chosen.question, chosen, rejected)
        for chosen, rejected in list(product(liked, disliked))[:MAX_PAIRS_PER_QUESTION]
    ]
