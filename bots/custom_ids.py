"""The custom ids of SupportLoop's buttons and modals (Slack action ids, Discord custom ids).

Each carries the answer id it acts on, so a button keeps working after a restart and on any replica; a
parser accepts only ids SupportLoop could have issued.
"""

from __future__ import annotations

import re

VOTE_ID = re.compile(r"^supportloop:vote:(?P<vote>up|down):(?P<answer_id>\d+)$")
REASON_ID = re.compile(r"^supportloop:reason:(?P<answer_id>\d+)$")
ESCALATE_ID = re.compile(r"^supportloop:escalate:(?P<answer_id>\d+)$")
MAX_ANSWER_ID = 2**31 - 1  # answers.id is an INTEGER: 32 bits on PostgreSQL


def vote_id(answer_id: int, vote: int) -> str:
    """The custom id of a vote button; it carries everything needed, so it works after a restart."""
    return f"supportloop:vote:{'up' if vote > 0 else 'down'}:{answer_id}"


def parse_vote_id(custom_id: str) -> tuple[int, int] | None:
    """(answer_id, vote) from a vote button's custom id, or None if it is not one we could have issued
    (an answer id past what the database holds is forged or corrupt, and would only raise there)."""
    match = VOTE_ID.match(custom_id or "")
    if match is None or not _storable(match["answer_id"]):
        return None
    return int(match["answer_id"]), 1 if match["vote"] == "up" else -1


def reason_id(answer_id: int) -> str:
    return f"supportloop:reason:{answer_id}"


def parse_reason_id(custom_id: str) -> int | None:
    """The answer id from a reason modal's custom id, or None if it is not one we could have issued."""
    return _answer_id(REASON_ID, custom_id)


def escalate_id(answer_id: int) -> str:
    """The custom id of the "Ask a person" button under a decline or a 👎's thanks."""
    return f"supportloop:escalate:{answer_id}"


def parse_escalate_id(custom_id: str) -> int | None:
    """The answer id from an "Ask a person" button's id, or None if it is not one we could have issued."""
    return _answer_id(ESCALATE_ID, custom_id)


def _answer_id(pattern: re.Pattern[str], custom_id: str) -> int | None:
    match = pattern.match(custom_id or "")
    return int(match["answer_id"]) if match and _storable(match["answer_id"]) else None


def _storable(digits: str) -> bool:
    """Whether an answer id fits the database's INTEGER key (PostgreSQL's is 32-bit, SQLite's 64)."""
    return len(digits) <= 10 and 0 < int(digits) <= MAX_ANSWER_ID
