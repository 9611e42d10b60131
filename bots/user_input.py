"""Reading what users type or react with: votes in any spelling, 👍/👎 reactions, ``/supportloop`` commands.

Pure functions of the text, the same for every platform, so each adapter recognises a vote or a
command exactly as the others do.
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.admin import JOB_KINDS


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""


VOTE_WORDS = {"+": 1, "👍": 1, "+1": 1, "y": 1, "yes": 1, "-": -1, "👎": -1, "-1": -1, "n": -1, "no": -1}
REACTIONS = {"+1": 1, "thumbsup": 1, "👍": 1, "-1": -1, "thumbsdown": -1, "👎": -1}
ADMIN_COMMANDS = {*JOB_KINDS, "rollback", "gaps"}
COMMANDS = {"ask", "status", "help", *ADMIN_COMMANDS}


def parse_vote(text: str) -> int | None:
    """+1 or -1 for a thumbs-up/down in any of its spellings; None for anything else."""
    return VOTE_WORDS.get(text.strip().lower())


def reaction_vote(name: str) -> int | None:
    """+1/-1 for a 👍/👎 reaction (Slack names with or without a skin tone, or the emoji); else None."""
    base = name.split("::", 1)[0].strip(":")
    base = base[:-1] if base.endswith("\ufe0f") else base
    for tone in ("\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff"):
        base = base.replace(tone, "")
    return REACTIONS.get(base)


def parse_command(text: str) -> Command:
    """``ask how do I…`` → Command("ask", "how do I…"); an empty text is ``help``."""
    name, _, argument = (text or "").strip().partition(" ")
    return Command(name.lower() or "help", argument.strip())
