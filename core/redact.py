"""Remove personal data and secrets from what users type: the one redactor every layer uses.

Users paste all sorts into a support chat and its 👎 notes: their email, a phone number, an API token.
The reward model and the policy must not learn (or later repeat) them, and admins reading the console or
an export need the complaint, not the customer's credentials. ``redact`` replaces each with a
placeholder naming what was there. 👎 reasons are redacted before they are stored (``core.records``);
questions and answers are stored as asked (serving needs them) and redacted wherever they leave for
training, the console or a report.
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
