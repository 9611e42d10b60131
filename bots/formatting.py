"""Splitting long text for platforms with message limits (Slack blocks 3000, Discord 2000 characters).

A split must not break Markdown: a code block cut in two is closed at the end of one part and reopened,
with its language, at the start of the next, so both parts render as code.
"""

from __future__ import annotations

FENCE = "```"


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters, split between lines where possible, fences balanced."""
    if limit < 20:
        raise ValueError("limit must leave room for code fences")
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    fence: str | None = None  # the opening line of the code block we are inside, if any

    def flush() -> None:
        nonlocal current, size
        body = "\n".join(current)
        if fence is not None:
            body += "\n" + FENCE
        if body.strip() and body.strip() != fence:
            parts.append(body)
        current = [fence] if fence is not None else []
        size = len(fence) if fence is not None else 0

    for line in text.split("\n"):
        closing = len(FENCE) + 1 if fence is not None else 0
        for piece in _pieces(line, limit - len(FENCE) * 2 - 2 - (len(fence) if fence else 0)):
            extra = len(piece) + (1 if current else 0)
            if size + extra + closing > limit and current:
                flush()
                extra = len(piece) + (1 if current else 0)
            current.append(piece)
            size += extra
        if line.lstrip().startswith(FENCE):
            fence = None if fence is not None else line.strip()
    if current:
        fence = None
        parts.append("\n".join(current))
    return parts


def _pieces(line: str, width: int) -> list[str]:
    """A line cut into pieces of at most ``width`` characters, at spaces where there are any."""
    pieces = []
    while len(line) > width:
        cut = line.rfind(" ", 0, width)
        cut = cut if cut > width // 2 else width
        pieces.append(line[:cut])
        line = line[cut:].lstrip(" ")
    pieces.append(line)
    return pieces
