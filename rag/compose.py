"""Compose an answer from page text: which sentences and steps to show, in what order, how long.

An answer is made of *units* cut from the ranked passages: a sentence, a list item with its bullet, a
whole run of numbered steps (a page's steps are never split, renumbered or shown without their text),
or a table row, shown as a list item that names each cell's column ("- TP-207 — What it means: …").
``choose`` is the heuristic choice of units; ``alternatives`` offers other choices (shorter, the steps
alone, one page only), and the served version's reward model, learnt from votes, may pick one of them
instead (``rag.answerer``), so users' votes change which answer they see. ``render`` writes the chosen
units as the answer: the best unit's page first, then other pages; within a page, its passages in the
ranker's order (which reads whole passages) and each passage's units in their order on the page; steps
one per line; no longer than ``max_chars``. Putting the best unit's own passage first instead, where the
ranker put another passage of its page above it, was measured on the dev questions and not kept
(``docs/answer-quality.md``, "Tried, not shipped"). A passage whose section heading is a name in code
(a command, a setting, an API field: "`tootctl media remove`") is quoted under that name, "`tootctl
media remove`: Removes locally cached copies…": reference sections say what their name does without
naming it, and the name is what the user needs.

The heuristic ranks a unit by its cosine to the question, read under its section heading ("Per account:
300 calls within 5 minutes" answers "rate limits per account", the bare sentence does not), plus a
bonus for question words it or its heading share, plus its passage's relevance (from the ranker), minus
a little for lower-ranked passages. The best unit grows into a window of its neighbours in the same
passage (answers often continue in the next sentence, and a sentence ending in ":" introduces the
steps after it), then other units close to the best fill what is left. Only the best unit may be a
sentence ending in ":" quoted without the unit it introduces: "Follow these steps:" as an answer's last
line says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from core.vector_memory import VectorMemory
from rag.text import split_sentences, terms

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.passage import Passage

STEP = re.compile(r"^\s*(\d{1,2})[.)]\s+\S")
ITEM = re.compile(r"^\s*[-*+•]\s+\S")  # a bulleted list item
NAMED = re.compile(r"^`[^`\n]+`")  # a section heading that is a name in code (``rag.extract``)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$")
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")  # a Markdown table row, as ``rag.extract`` writes tables
TABLE_RULE = re.compile(r"^\s*\|(?:\s*:?-{3,}:?\s*\|)+\s*$")  # the line under a table's header
CELL_EDGE = re.compile(r"(?<!\\)\|")
MAX_CHARS = 700
MARGIN = 0.5  # how far below the best unit another unit may rank and still be added
BRIEF_CHARS = 200  # the brief alternative: about two sentences


@dataclass(frozen=True)
class Unit:
    """A sentence, a list item ("- " and its text), or a run of numbered steps kept whole, from passage
    ``passage``."""

    passage: int
    text: str
    kind: Literal["sentence", "item", "steps"]
    name: str = ""  # the name in code that the unit's section documents, if any (``_name``)


def section_of(passage: Passage) -> str:
    """The passage's own (deepest) section heading, e.g. "Refunds" of "Billing > Refunds"."""
    return passage.heading.rpartition(" > ")[2]


def passage_body(passage: Passage) -> str:
    """A passage's text without its first line, the "Title > Heading" breadcrumb the chunker adds."""
    first, _, rest = passage.text.partition("\n")
    return rest if " > " in first or first == passage.title else passage.text


def units_of(passages: Sequence[Passage]) -> list[Unit]:
    """The units of each passage, in passage order, then page order.

    A list item stays one unit with its bullet, so an answer quoting a page's list still shows a list
    ("- Bank transfer, for annual plans…" on a line of its own), not its items run together. A table
    row becomes such an item too (``_row``); the header row only names the columns."""
    units: list[Unit] = []
    headers = _table_headers(passages)
    for i, passage in enumerate(passages):
        steps: list[str] = []
        name = _name(section_of(passage))
        lines = passage_body(passage).splitlines()
        # A passage that opens inside a table the chunker split reads its rows under the table's header.
        header = headers.get((passage.source, passage.heading), [])
        for n, line in enumerate(lines):
            if TABLE_ROW.match(line):
                if steps:
                    units.append(Unit(i, "\n".join(steps), "steps", name))
                    steps = []
                if _is_header(lines, n):
                    header = _cells(line)
                elif not TABLE_RULE.match(line):
                    units.append(Unit(i, f"- {_row(_cells(line), header)}", "item", name))
                continue
            header = []
            if STEP.match(line):
                steps.append(line.strip())
                continue
            if steps:
                units.append(Unit(i, "\n".join(steps), "steps", name))
                steps = []
            heading = HEADING.match(line)  # a section too deep for the chunker to split at
            if heading:
                name = _name(heading.group(1))
            elif ITEM.match(line):
                item = " ".join(split_sentences(line))
                if item:
                    units.append(Unit(i, f"- {item}", "item", name))
            else:
                units.extend(Unit(i, sentence, "sentence", name) for sentence in split_sentences(line))
        if steps:
            units.append(Unit(i, "\n".join(steps), "steps", name))
    return units


@dataclass(frozen=True)
class Composition:
    text: str
    chosen: list[int]  # indices into the units, in the order shown
    used: list[int]  # passages the answer quotes, best first


class Composer:
    """Chooses and renders units; one embedder for the heuristic's cosines."""

    def __init__(self, embeddings: Embeddings, *, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars
        # A popular page's units are read for every answer that quotes it (see core.vector_memory).
        self._vectors = VectorMemory(lambda texts: np.asarray(embeddings.embed_documents(texts)))

    def scores(self, question: str, passages: Sequence[Passage], units: Sequence[Unit]) -> np.ndarray:
        """The heuristic's score of each unit (see the module doc); ``passages`` best first."""
        headings = [section_of(p).replace("`", "") for p in passages]
        texts = [f"{headings[u.passage]}: {u.text}" if headings[u.passage] else u.text for u in units]
        vectors = self._vectors([question, *texts])
        asked = set(terms(question))

        def shared(*texts: str) -> float:
            return len(asked & {w for text in texts for w in terms(text)}) / max(len(asked), 1)

        relevance = [p.score + 0.5 * shared(p.text) for p in passages]
        bonus = [
            0.5 * shared(u.text, headings[u.passage]) + relevance[u.passage] - 0.02 * u.passage for u in units
        ]
        return vectors[1:] @ vectors[0] + np.asarray(bonus, dtype=np.float32)

    def choose(self, question: str, passages: Sequence[Passage], units: Sequence[Unit]) -> list[int]:
        """The heuristic's units to show, best first (``render`` puts them in reading order)."""
        if not units:
            return []
        return self._grow(units, self.scores(question, passages, units))

    def alternatives(self, question: str, passages: Sequence[Passage]) -> list[Composition]:
        """Other answers a user might prefer, the heuristic's first: the heuristic's choice within
        ``BRIEF_CHARS`` (the shortest answer that still answers), the best run of steps with what
        introduces it, the best unit followed by its page's best run of steps (the direct answer, then
        how to do it), and the heuristic kept to the ranker's best page. Different texts only; a learned
        preference picks among them.

        One page is the ranker's best, not the best unit's: the ranker reads whole passages. On the
        tastes bench's training questions the answer kept to it was correct for 32 of 35, kept to the
        best unit's page for 31.

        The brief answer grows from the best unit like the full one. On the tastes bench's training
        questions the best unit alone stated 0.59 of the expected facts, this 0.68 (the full answer
        0.91): the best-scoring sentence is often next to the one that answers, not that one. It grows
        from the best unit that is brief on its own, and its budget counts the answer as rendered
        (``_brief``)."""
        units = units_of(passages)
        if not units:
            return [self.render(passages, units, [])]
        rank = self.scores(question, passages, units)
        best = int(np.argmax(rank))
        choices = [self._grow(units, rank), self._brief(passages, units, rank)]
        steps = [k for k, u in enumerate(units) if u.kind == "steps"]
        page = passages[units[best].passage].source
        if steps:
            choices.append(self._with_intro(units, [max(steps, key=lambda k: rank[k])]))
            own = [k for k in steps if passages[units[k].passage].source == page]
            if own:
                choices.append([best, *self._with_intro(units, [max(own, key=lambda k: rank[k])])])
        top_page = passages[0].source  # the ranker's best page, which reads whole passages
        on_page = np.where([passages[u.passage].source == top_page for u in units], rank, -np.inf)
        choices.append(self._grow(units, on_page))
        options = [self.render(passages, units, chosen) for chosen in choices]
        return list({o.text: o for o in options}.values())

    @staticmethod
    def _with_intro(units: Sequence[Unit], chosen: list[int]) -> list[int]:
        """``chosen`` with the sentence ending in ":" just before a run of steps, or the steps just
        after such a sentence (one is nothing without the other)."""
        k = chosen[0]
        same_page_before = k > 0 and units[k - 1].passage == units[k].passage
        if units[k].kind == "steps" and same_page_before and units[k - 1].text.endswith(":"):
            return [k - 1, k]
        same_page_after = k + 1 < len(units) and units[k + 1].passage == units[k].passage
        if units[k].kind == "sentence" and units[k].text.endswith(":") and same_page_after:
            return [k, k + 1]
        return chosen

    def _brief(self, passages: Sequence[Passage], units: Sequence[Unit], rank: np.ndarray) -> list[int]:
        """The heuristic choice within ``BRIEF_CHARS`` as users would read it: grown from the best unit
        that fits on its own (a long run of steps can't open a brief answer), and counting what
        rendering adds (a section's name, paragraph breaks between pages). A sentence ending in ":"
        fits only with what it introduces. Where no unit fits, the best unit alone.

        On the dev questions (the demo's but the tastes bench's held-out half, and Mastodon's), the
        brief answer was a correct one of at most 200 characters for 0.633 of the demo's and 0.413 of
        Mastodon's, against 0.600 and 0.308 when a too-long best unit opened it and only the quoted
        text was counted."""

        def size(chosen: list[int]) -> int:
            return len(self.render(passages, units, chosen).text)

        brief = np.asarray([size(_opening(units, k)) <= BRIEF_CHARS for k in range(len(units))])
        if not brief.any():
            return self._grow(units, rank, BRIEF_CHARS)
        return self._grow(units, np.where(brief, rank, -np.inf), BRIEF_CHARS, size)

    def _grow(
        self,
        units: Sequence[Unit],
        rank: np.ndarray,
        max_chars: int | None = None,
        size: Callable[[list[int]], int] | None = None,
    ) -> list[int]:
        """The heuristic choice given each unit's score (see the module doc), within ``max_chars``
        (default: the composer's) as ``size`` measures a choice (default: its units' text and a
        separator between each two)."""
        budget = max_chars or self.max_chars
        measure = size or (lambda chosen: sum(len(units[k].text) + 1 for k in chosen) - 1)
        best = int(np.argmax(rank))
        chosen = [best]

        def fits(k: int) -> bool:
            return k not in chosen and measure([*chosen, k]) <= budget

        opening = _opening(units, best)  # "To reset it:" is nothing without the steps it introduces
        if measure(opening) <= self.max_chars:  # even if brief
            chosen = opening
        while True:  # widen the window around the best unit, better neighbour first
            low, high = min(chosen) - 1, max(chosen) + 1
            around = [
                k for k in (low, high) if 0 <= k < len(units) and units[k].passage == units[best].passage
            ]
            around = [k for k in around if fits(k)]
            if not around:
                break
            chosen.append(max(around, key=lambda k: rank[k]))
        for k in map(int, np.argsort(-rank)):
            if rank[k] < rank[best] - MARGIN:
                break
            if fits(k):
                chosen.append(k)
        # "Follow these steps:" without the steps after it says nothing (the best unit keeps its own).
        return [k for k in chosen if k == best or not units[k].text.endswith(":") or k + 1 in chosen]

    def render(
        self, passages: Sequence[Passage], units: Sequence[Unit], chosen: Sequence[int]
    ) -> Composition:
        """The answer text for ``chosen`` units: the first unit's page first, each page's units in the
        ranker's passage order and each passage's in page order.

        Units that would take the answer past ``max_chars`` are left out; a run of steps that alone is
        too long keeps its first whole steps and says the rest is on the page.
        """
        kept: list[int] = []
        length = 0
        labelled: set[tuple[str, str]] = set()
        for k in dict.fromkeys(chosen):
            if not 0 <= k < len(units):
                continue
            unit = units[k]
            section = (passages[unit.passage].source, unit.name)  # labelled once per page, as below
            label = bool(unit.name) and section not in labelled
            size = len(unit.text) + 2 + (len(unit.name) + 2 if label else 0)
            if length + size > self.max_chars and kept:
                continue
            kept.append(k)
            length += size
            if label:
                labelled.add(section)
        used = list(dict.fromkeys(units[k].passage for k in kept))
        pages = dict.fromkeys(passages[i].source for i in used)
        quoted = " ".join(units[k].text for k in kept).lower()
        blocks = []
        for page in pages:
            parts, named = [], {""}
            for k in sorted(kept):
                unit = units[k]
                if passages[unit.passage].source != page:
                    continue
                text = self._fit(unit)
                if unit.name not in named and unit.name.strip("`").lower() not in quoted:
                    text = f"{unit.name}: {text}" if unit.kind == "sentence" else f"{unit.name}:\n{text}"
                named.add(unit.name)
                parts.append(text)
            blocks.append(_join(parts))
        return Composition("\n\n".join(blocks), kept, used)

    def compose(self, question: str, passages: Sequence[Passage]) -> Composition:
        """The heuristic's answer: ``choose`` then ``render``."""
        units = units_of(passages)
        return self.render(passages, units, self.choose(question, passages, units))

    def _fit(self, unit: Unit) -> str:
        if len(unit.text) <= self.max_chars or unit.kind != "steps":
            return unit.text
        steps, length = [], 0
        for line in unit.text.splitlines():
            if steps and length + len(line) + 1 > self.max_chars - 40:
                break
            steps.append(line)
            length += len(line) + 1
        return "\n".join([*steps, "(More steps on the page.)"])


def _opening(units: Sequence[Unit], k: int) -> list[int]:
    """Unit ``k`` with what it introduces: the unit after a sentence ending in ":" in its passage."""
    following = k + 1
    introduces = units[k].kind == "sentence" and units[k].text.endswith(":")
    if introduces and following < len(units) and units[following].passage == units[k].passage:
        return [k, following]
    return [k]


def _table_headers(passages: Sequence[Passage]) -> dict[tuple[str, str], list[str]]:
    """The header cells of the first table in each (page, section) among ``passages``."""
    headers: dict[tuple[str, str], list[str]] = {}
    for passage in passages:
        lines = passage_body(passage).splitlines()
        first = next((n for n in range(len(lines)) if _is_header(lines, n)), None)
        if first is not None:
            headers.setdefault((passage.source, passage.heading), _cells(lines[first]))
    return headers


def _is_header(lines: Sequence[str], n: int) -> bool:
    """Whether line ``n`` is a table's header: a row with the rule line under it."""
    return n + 1 < len(lines) and bool(TABLE_ROW.match(lines[n])) and bool(TABLE_RULE.match(lines[n + 1]))


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row, without markup ("| `TP-207` | The path… |")."""
    cells = CELL_EDGE.split(row.strip())[1:-1]
    return [" ".join(split_sentences(cell.replace("\\|", "|"))) for cell in cells]


def _row(cells: Sequence[str], header: Sequence[str]) -> str:
    """A table row as a line that reads on its own, each cell under its column's name: "macOS — Minimum
    version: macOS 13 or later. Notes: One app runs natively…". A row pasted as it is ("| macOS | macOS
    13 or later | One app… |") ran on with its neighbours into one unreadable line in chat."""
    key, *rest = cells or [""]
    names = [*header[1:], *[""] * len(rest)]
    parts = [
        f"{column}: {cell}" if column else cell for column, cell in zip(names, rest, strict=False) if cell
    ]
    text = " ".join(part if part[-1] in ".!?:" else f"{part}." for part in parts)
    return f"{key} — {text}" if key and text else key or text


def _name(heading: str) -> str:
    """The name in code that a section heading gives ("`tootctl media remove`", "`created_at`"), or "":
    the section's sentences say what it does ("Removes locally cached copies of media…") without naming
    it."""
    match = NAMED.match(heading)
    return match.group() if match else ""


def _join(parts: Sequence[str]) -> str:
    """Sentences run on in one paragraph; steps, list items and a named section's first sentence start on
    their own lines."""
    text = ""
    for part in parts:
        last = text.rsplit("\n", 1)[-1]
        if not text:
            text = part
        elif "\n" in part or NAMED.match(part) or any(p.match(part) or p.match(last) for p in (STEP, ITEM)):
            text += "\n" + part
        else:
            text += " " + part
    return text
