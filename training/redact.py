"""Remove personal data and secrets from stored questions before training uses them.

Users paste all sorts into a support chat: their email, a phone number, an API token. The reward model
and the policy must not learn (or later repeat) them, so training data passes through ``redact``, which
replaces each with a placeholder naming what was there.
"""

from __future__ import annotations

import re

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("[email]", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    # Tokens before phone numbers: some tokens hold long digit runs.
    (
        "[token]",
        re.compile(
            r"\b(?:xox[abposr]-[\w-]{10,}|xapp-[\w-]{10,}|gh[pousr]_\w{20,}|github_pat_\w{20,}|sk-[\w-]{20,}"
            r"|hf_\w{20,}|AKIA[0-9A-Z]{16}|eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,})"
        ),
    ),
    ("[token]", re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}\b")),
    ("[phone]", re.compile(r"(?<![\w+])\+?\d[\d ().-]{6,}\d(?![\w])")),
]


def redact(text: str) -> str:
    """``text`` with emails, tokens and phone numbers replaced by ``[email]``, ``[token]``, ``[phone]``."""
    for placeholder, pattern in PATTERNS:
        text = pattern.sub(placeholder, text)
    return text
