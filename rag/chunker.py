"""Heading-aware chunking: split a page at its headings, then long sections into overlapping pieces.

Each chunk starts with its breadcrumb ("Page title > Section > Subsection") so that both the embedder
and the chat model see where a passage comes from. Chunk ids hash the URL, the heading path (and
which occurrence of it) and the position inside the section, so a re-crawl of an unchanged page
produces the same ids and updates chunks in place.

Lists are kept whole, because an answer that quotes steps must quote all of them in order: a list and
the paragraph that introduces it ("To reset your password:") go into one chunk whenever they fit in
``size``, next to the text around them if that fits too; a list that fits alone is never split to take
a long introduction (it then starts its own chunk). Numbered steps may fill up to ``STEPS_FACTOR`` times
``size`` before they are split: a chunk that starts at step 3 makes an answer that starts there too
(the composer shortens a long run of steps from its end, "More steps on the page."). A longer list is
split between items, never
inside one (an item keeps its nested lines and code blocks), and the introduction goes with the first
items. Prose is split as before, into overlapping pieces. An item longer than a chunk (a long
reference entry rather than a step) is split between its own lines, and a line longer than a chunk like
prose.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from rag.extract import ExtractedPage

HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
LIST_ITEM = re.compile(r"(?:\d+\.|[-*+])\s")  # a top-level item; nested ones are indented
NUMBERED = re.compile(r"\d+\.\s")
STEPS_FACTOR = 2  # numbered steps stay in one chunk up to this many times ``size``
FENCE = re.compile(r"\s*(?:```|~~~)")
BLOCK_END = "  "  # MarkdownHeaderTextSplitter ends each block's last line with two spaces
# Stands for a leading space while MarkdownHeaderTextSplitter runs: it strips every line and drops
# unprintable characters, which would flatten nested list items and indented code.
INDENT = "\u2420"


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, str | int | bool] = field(default_factory=dict)


def chunk_page(
    url: str,
    page: ExtractedPage,
    *,
    size: int = 500,
    overlap: int = 80,
    page_metadata: Mapping[str, str | int | bool] | None = None,
) -> list[Chunk]:
    """Split one extracted page into chunks carrying source URL, title, heading path and ``page_metadata``."""
    indented = re.sub(r"^ +", lambda m: INDENT * len(m.group()), page.markdown, flags=re.M)
    sections = MarkdownHeaderTextSplitter(HEADERS, strip_headers=True).split_text(indented)
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=min(overlap, size // 2))
    chunks: list[Chunk] = []
    occurrences: dict[str, int] = {}
    for section in sections:
        path = [section.metadata[key] for _, key in HEADERS if key in section.metadata]
        if path and path[0] == page.title:
            path = path[1:]
        heading = " > ".join(path)  # a name in code keeps its backticks (``rag.extract``)
        breadcrumb = " > ".join([page.title, *path] if page.title else path).replace("`", "")
        occurrence = occurrences[heading] = occurrences.get(heading, -1) + 1  # repeated headings
        content = re.sub(f"^{INDENT}+", lambda m: " " * len(m.group()), section.page_content, flags=re.M)
        for position, piece in enumerate(_pieces(content, size, splitter)):
            digest = hashlib.sha256(f"{url}\n{heading}\n{occurrence}\n{position}".encode()).hexdigest()[:24]
            chunks.append(
                Chunk(
                    id=digest,
                    text=f"{breadcrumb}\n{piece}" if breadcrumb else piece,
                    metadata={
                        **(page_metadata or {}),
                        "source": url,
                        "title": page.title,
                        "heading": heading,
                    },
                )
            )
    return chunks


@dataclass
class _Segment:
    """Prose (split with overlap) or a list: its introduction (may be empty) and its items."""

    text: str = ""
    items: list[str] = field(default_factory=list)
    intro: str = ""


def _segments(content: str, size: int) -> list[_Segment]:
    """``content`` as prose and list segments; a list takes the paragraph before it when both fit."""
    segments: list[_Segment] = []
    lines: list[str] = []  # of the current segment
    in_list = in_fence = False
    previous = ""

    def close() -> None:
        if not lines:
            return
        if in_list:
            segments.append(_Segment(items=_items(lines)))
        else:
            segments.append(_Segment(text="\n".join(lines)))
        lines.clear()

    for line in content.split("\n"):
        fence = FENCE.match(line) is not None
        if in_fence:
            lines.append(line)
            in_fence = not fence
            continue
        item = LIST_ITEM.match(line) is not None
        continues = in_list and (line[:1].isspace() or (fence and not previous.endswith(BLOCK_END)))
        if item and not in_list:
            close()
            in_list = True
        elif in_list and not (item or continues):
            close()
            in_list = False
        lines.append(line)
        in_fence = fence
        previous = line
    close()
    for before, listing in itertools.pairwise(segments):
        if listing.items and not before.items:
            head, _, intro = before.text.rstrip().rpartition(BLOCK_END + "\n")
            whole, limit = len("\n".join(listing.items)), _limit(listing.items, size)
            # The introduction joins the list where both fit, or where the list must be split anyway;
            # never where taking it would split a list that fits alone.
            if len(intro) + 1 + whole <= limit or (
                whole > limit and len(intro) + 1 + len(listing.items[0]) <= size
            ):
                before.text, listing.intro = head, intro.strip()
    return [s for s in segments if s.items or s.text.strip()]


def _limit(items: list[str], size: int) -> int:
    """The longest chunk a list may fill: numbered steps, ``STEPS_FACTOR`` times ``size`` (an answer that
    starts at step 3 is useless without steps 1 and 2); other lists, ``size``."""
    return STEPS_FACTOR * size if items and NUMBERED.match(items[0]) else size


def _units(lines: list[str], starts: Callable[[str], object]) -> list[str]:
    """``lines`` grouped into units that begin at a line for which ``starts`` holds; code stays in one."""
    units: list[list[str]] = []
    in_fence = False
    for line in lines:
        if (not in_fence and starts(line)) or not units:
            units.append([])
        units[-1].append(line)
        if FENCE.match(line):
            in_fence = not in_fence
    return ["\n".join(unit).strip() for unit in units]


def _items(lines: list[str]) -> list[str]:
    """A list's top-level items, each with its nested and code lines."""
    return _units(lines, LIST_ITEM.match)


def _pack(units: list[str], size: int, splitter: RecursiveCharacterTextSplitter) -> list[str]:
    """Units joined into parts of at most ``size``; a unit too long alone is split at its own lines
    (an item longer than a chunk is a list of its nested items), and a line or code block by the splitter."""
    parts: list[str] = []
    for unit in units:
        if len(unit) > size:
            lines = _units(unit.split("\n"), lambda _: True)
            parts.extend(_pack(lines, size, splitter) if len(lines) > 1 else splitter.split_text(unit))
        elif parts and len(parts[-1]) + 1 + len(unit) <= size:
            parts[-1] += "\n" + unit
        else:
            parts.append(unit)
    return parts


def _pieces(content: str, size: int, splitter: RecursiveCharacterTextSplitter) -> list[str]:
    """Chunk texts of one section: prose pieces, and lists packed whole or split between items."""
    pieces: list[str] = []
    open_end = False  # the last piece may take the next segment's start, as it overlaps nothing after it

    def add(parts: list[str]) -> None:
        nonlocal open_end
        for index, part in enumerate(parts):
            if index == 0 and open_end and len(pieces[-1]) + 1 + len(part) <= size:
                pieces[-1] += "\n" + part
            else:
                pieces.append(part)
        open_end = bool(parts)

    for segment in _segments(content, size):
        if segment.items:
            units = [segment.intro, *segment.items] if segment.intro else segment.items
            whole = "\n".join(units)
            if len(whole) <= _limit(segment.items, size):
                add([whole])
            else:
                add(_pack(units, size, splitter))
        else:
            add(splitter.split_text(segment.text))
    return pieces
