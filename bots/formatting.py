"""Reply text for chat: steps laid out, sources shown once, and long text split within message limits.

Reply text is Markdown (``**bold**``, ``[title](url)``, ``> quote``, code fences); each adapter renders
it for its platform. Before that, ``for_chat`` puts numbered steps that arrive run together in one line
("1. Open … 2. Click …") on lines of their own, and takes out the "— Title (url)" line under a quote
when the page is listed under Sources anyway, so that a source appears once.

``split_text`` then cuts text that is over a platform's limit (Slack sections 3000, Discord messages
2000 characters) at the best boundary it can: between paragraphs, before a step, between lines, after a
sentence, between words, in that order. No part is left tiny (a lone "From the help pages:"), a quote
cut in two stays a quote, and a code block cut in two is closed at the end of one part and reopened, with
its language, at the start of the next.
"""

from __future__ import annotations

import re

from bots.replies import Reply, Source

FENCE = "```"
MIN_PART = 0.5  # a part is cut early (at a paragraph or step) only once it holds this share of the limit
_QUOTE = re.compile(r"^(\s*>\s?)")
# "1. " or "2) " after a space: a step marker inside a line (a version number "2.5" has no space after)
_STEP_IN_LINE = re.compile(r"(?<=\s)(?P<n>\d{1,2})[.)]\s+(?=\S)")
# "Step 2. Tap …", "page 3. The …": a number that belongs to the word before it starts no step
_NOT_A_STEP = re.compile(
    r"\b(?:steps?|pages?|version|v|section|chapter|part|figure|item|no|number|option|tier|plan|level)\s+$",
    re.IGNORECASE,
)
_STEP_START = re.compile(r"^\s*(?:>\s?)?(?:\d{1,2}[.)]|[-*•])\s")
_ATTRIBUTION = re.compile(r"^\s*— .*\((?P<url>https?://[^\s)]+)\)\s*$")
_SENTENCE_END = re.compile(r"[.!?:;](?=\s)")


def for_chat(reply: Reply) -> tuple[str, tuple[Source, ...]]:
    """``reply``'s text with its steps on lines of their own, and the sources still to list under it.

    A quote's "— Title (url)" line goes when that page is in the Sources list; a source the text links
    to inline (``[title](url)``) is not listed again.
    """
    listed = {source.url for source in reply.sources}
    lines = [line for line in reply.text.split("\n") if not _is_listed_attribution(line, listed)]
    text = "\n".join(_step_lines(line) for line in lines).strip("\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    sources = tuple(source for source in reply.sources if f"]({source.url})" not in text)
    return text or reply.text, sources


def _is_listed_attribution(line: str, listed: set[str]) -> bool:
    match = _ATTRIBUTION.match(line)
    return match is not None and match["url"] in listed


def _step_lines(line: str) -> str:
    """A line holding a run of numbered steps ("1. … 2. … 3. …"), one step a line; other lines as
    they are. Only a run counting up by one from its first number counts, so "see page 2. Then" stays."""
    markers = [m for m in _STEP_IN_LINE.finditer(line) if not _NOT_A_STEP.search(line, 0, m.start())]
    first = re.match(r"^\s*(?:>\s?)?(\d{1,2})[.)]\s", line)
    expected = int(first[1]) + 1 if first else 1
    cuts = []
    for marker in markers:
        if int(marker["n"]) == expected:
            cuts.append(marker.start())
            expected += 1
    if len(cuts) + (1 if first else 0) < 2:
        return line
    prefix = _QUOTE.match(line)
    quote = prefix[1] if prefix else ""
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(line[start:cut].rstrip())
        start = cut
    pieces.append(line[start:].rstrip())
    return "\n".join([pieces[0]] + [quote + piece for piece in pieces[1:]])


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters, cut at the best boundary, fences balanced, none tiny."""
    if limit < 20:
        raise ValueError("limit must leave room for code fences")
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    fence: str | None = None  # the opening line of the code block we are inside, if any
    fence_in_part = False  # whether ``current`` opens or closes a fence (then it is never cut early)

    def size() -> int:
        return sum(map(len, current)) + max(len(current) - 1, 0)

    def room() -> int:
        """What the next line may hold: the limit less the part so far, a newline, and a closing fence."""
        return limit - size() - (1 if current else 0) - (len(FENCE) + 1 if fence is not None else 0)

    def flush() -> None:
        nonlocal current, fence_in_part
        keep = _early_cut(current, limit) if fence is None and not fence_in_part else len(current)
        done, current = current[:keep], current[keep:]
        while done and not done[-1].strip():
            done.pop()
        body = "\n".join(done) + ("\n" + FENCE if fence is not None else "")
        if body.strip() and body.strip() != fence:
            parts.append(body)
        while current and not current[0].strip():
            current.pop(0)
        if fence is not None:
            current = [fence]
        fence_in_part = fence is not None

    for line in text.split("\n"):
        rest = line
        while len(rest) > room():
            carried = current == [fence]  # only the reopened fence: nothing to end a part with yet
            if current and not carried and (size() >= limit * MIN_PART or len(rest) <= limit // 2):
                flush()  # a full enough part, or a line that will fit whole in the next one
                continue
            piece, rest = _cut(rest, room())
            current.append(piece)
            flush()
        current.append(rest)
        if line.lstrip().startswith(FENCE):
            fence = None if fence is not None else line.strip()
            fence_in_part = True
    if current:
        parts.append("\n".join(current))
    return parts


def _early_cut(lines: list[str], limit: int) -> int:
    """Where to end a full part: before its last paragraph or step that leaves the part at least half
    the limit (the rest starts the next part); else after all its lines."""
    total = 0
    best = len(lines)
    for n, line in enumerate(lines):
        if n and total >= limit * MIN_PART and (not lines[n - 1].strip() or _STEP_START.match(line)):
            best = n
        total += len(line) + 1
    return best


def _cut(line: str, width: int) -> tuple[str, str]:
    """A first piece of at most ``width`` characters, ending after a sentence where possible, else at a
    space, else hard; and the rest, still a quote when the line was one."""
    width = max(width, 1)
    window = line[: width + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() > width // 2]
    cut = ends[-1] if ends else window.rfind(" ", 0, width + 1)
    cut = cut if cut > width // 2 else width
    prefix = _QUOTE.match(line)
    rest = line[cut:].lstrip(" ")
    if prefix and rest and not _QUOTE.match(rest):
        rest = prefix[1] + rest
    return line[:cut].rstrip(" "), rest
