"""Help-center debris: the widgets, bylines and labels that sit inside an article's own markup.

``rag.extract`` drops site chrome by tag, role and class; what is left here is what hosted help centers
(Zendesk, Intercom, Help Scout, Freshdesk, Document360, GitBook, Docusaurus, MkDocs) put *inside* the
article, often with utility classes that say nothing. The rules go by structure and by the shape of short
lines, never by one site's exact strings, and each keeps real content when in doubt:

- **Link blocks** (in the DOM): a short title such as "Related articles", "Recently viewed articles",
  "Table of contents", "In this article" or "On this page" is dropped with the link-only elements that
  follow it; so are lists whose every item is an in-page ``#anchor`` link (a table of contents),
  heading permalinks (an ``#anchor`` link with no letters: "¶", "#", an icon), "Previous / Next" pager
  links, and a breadcrumb trail (two or more links, then the page's own title).
- **Meta lines** (in the DOM): an element is a byline when its text holds a strong meta signal ("N min
  read", "Written by …", "N comments", or an updated/modified/published word together with a date or
  "… ago") and, once every meta phrase and date is taken out, at most a short name remains. The largest
  such element around the signal goes, so an author's avatar, name and date list go together.
- **Widgets**: "Was this article helpful?", "Did this answer your question?", "N out of M found this
  helpful", with their Yes/No; a paragraph made only of UI actions ("Print", "Copy link", "Share",
  "Follow", "Subscribe", "Edit this page", "Return to top", "See more").
- **UI labels**: a callout's label that stands alone ("Tip", "Note", "Warning", "Important", "Info", …,
  with an icon, a colon, or as ``:::note`` / ``!!! note``) is merged into the callout's text as
  "Tip: …". Before a list it becomes the list's first line ("Tip:"); before anything else (a heading, a
  code block, nothing) it is dropped. A bare ``:::`` fence line is dropped. A label in an element of its
  own at the start of a paragraph ("<b>Note</b> Exports…") gets its colon: "Note: Exports…".
- **Lone step numbers**: a paragraph that is only a step number ("1", "2.", "Step 3") is joined to the
  paragraph that follows as "1. …", so a step never reads as a number without its text.
"""

from __future__ import annotations

import re

from bs4 import NavigableString, Tag

LINK_BLOCK_TITLE = re.compile(
    r"(?:related|similar|popular|recommended|recently viewed|recent|more|other|top)(?: \w+)?"
    r" (?:articles?|pages?|posts?|guides?|topics?|questions?|docs)"
    r"|articles in this section|(?:table of )?contents|in this (?:article|page|section|guide|topic)"
    r"|on this page",
    re.IGNORECASE,
)
PAGER_WORDS = {"previous", "prev", "next"}

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?"
_DATE = (
    rf"(?:{_WEEKDAY}\s+)?(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?"
    rf"\s+\d{{4}}|{_MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?)?"
)
_RELATIVE = (
    r"(?:(?:over|about|almost|nearly|more than|less than)\s+)?(?:an?|\d+|a few|several)\s+"
    r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\s+ago|yesterday|today|just now"
)
_READ_TIME = r"\d+\s*(?:min|mins|minutes?)\.?\s+(?:to\s+)?read"
_UPDATED = r"(?:last\s+)?(?:updated|modified|edited|published|posted|reviewed|created)(?:\s+(?:on|at))?:?"
_AUTHOR = r"(?:(?:written|posted|published|authored|edited|reviewed)\s+)?by"
META_PIECE = re.compile(
    rf"\b(?:{_READ_TIME}|{_DATE}|{_RELATIVE}|{_UPDATED}|{_AUTHOR}|and\s+\d+\s+others?|\d+\s+comments?)\b"
    r"|[·•|—–,:/]",
    re.IGNORECASE,
)
STRONG_META = re.compile(rf"{_READ_TIME}|\b(?:written|posted|authored)\s+by\b|^\s*\d+\s+comments?\s*$", re.I)
UPDATED_WORD = re.compile(_UPDATED, re.IGNORECASE)
WHEN = re.compile(rf"{_DATE}|{_RELATIVE}", re.IGNORECASE)
NAME = re.compile(r"(?:[A-Z][\w.'’-]*\s*){0,4}")
META_MAX_CHARS = 160

WIDGET = re.compile(
    r"(?:(?:was|is|did|do|does)\s+(?:this|it|you\s+find\s+(?:this|it))(?:\s+\w+)?\s+helpful"
    r"|did\s+this\s+answer\s+your\s+question|\d+\s+out\s+of\s+\d+\s+found\s+this\s+helpful)",
    re.IGNORECASE,
)
WIDGET_MAX_CHARS = 120
VOTE_ANSWERS = re.compile(r"(?:yes|no|👍|👎|😞|😐|😃|[\s|/·])+", re.IGNORECASE)
UI_ACTION = re.compile(
    r"(?:print(?: this (?:article|page))?|copy(?: link| url)?|share|follow|unfollow|subscribe|tweet"
    r"|edit(?: this (?:article|page))?|(?:return|back|scroll) to top|see (?:more|all)|show more"
    r"|expand all|collapse all|download (?:as )?pdf)",
    re.IGNORECASE,
)
UI_ACTIONS_ONLY = re.compile(rf"{UI_ACTION.pattern}(?:[\s|·•,]+{UI_ACTION.pattern})*", re.IGNORECASE)

LABEL = re.compile(
    r"(?:[:!]{3}\s*)?[^\w\s]*\s*(note|tip|hint|info|information|warning|caution|danger|important|attention"
    r"|notice|remember|success|error)\s*:?",
    re.IGNORECASE,
)
INLINE_LABEL_TAGS = {"b", "strong", "span", "em", "i", "mark", "label", "small"}
FENCE_ONLY = re.compile(r"[:!]{3}")
STEP_NUMBER = re.compile(r"(?:step\s*)?(\d{1,2})[.):]?", re.IGNORECASE)
LIST_LINE = re.compile(r"(?:\d+\.|[-*])\s")


# --- in the DOM ---------------------------------------------------------------------------------------------


def drop_meta_lines(root: Tag) -> None:
    """Remove bylines, dates and read times: the largest element around a meta phrase that is all meta."""
    signals = root.find_all(string=lambda s: bool(STRONG_META.search(s) or UPDATED_WORD.search(s)))
    for signal in signals:
        if signal.decomposed:  # inside a byline already removed
            continue
        element, byline = signal.parent, None
        while isinstance(element, Tag) and element is not root:
            text = element.get_text(" ", strip=True)
            if len(text) > META_MAX_CHARS:
                break
            if is_meta_line(text):
                byline = element
            element = element.parent
        if byline is not None and not byline.decomposed:
            byline.decompose()


def drop_link_blocks(root: Tag) -> None:
    """Remove related-articles and contents blocks, anchor-only lists, permalinks, pagers and breadcrumbs."""
    link_parents: dict[int, Tag] = {}
    for link in root.find_all("a"):
        if link.decomposed:
            continue
        if isinstance(link.parent, Tag):
            link_parents.setdefault(id(link.parent), link.parent)
        href = link.get("href") or ""
        text = link.get_text(" ", strip=True)
        if href.startswith("#") and not re.search(r"\w", text):
            link.decompose()  # a heading's permalink: "¶", "#" or an icon
        elif text.lower().startswith(("prev", "next")) and _is_pager(link):
            link.decompose()
    for text in root.find_all(string=lambda s: LINK_BLOCK_TITLE.fullmatch(s.strip().rstrip(":")) is not None):
        title = _outermost_with_text(text)
        if title is None or title is root or not _stands_alone(title):
            continue
        for sibling in list(title.find_next_siblings()):
            if not _links_only(sibling):
                break
            sibling.decompose()
        title.decompose()
    for listing in root.find_all(("ul", "ol")):
        if not listing.decomposed and _anchor_list(listing):
            listing.decompose()
    heading = root.find("h1")
    title = " ".join(heading.get_text().split()) if isinstance(heading, Tag) else ""
    for trail in link_parents.values():
        if title and not trail.decomposed and _is_breadcrumb(trail, title):
            trail.decompose()


def _is_breadcrumb(tag: Tag, title: str) -> bool:
    """Two or more links, then the title of the page they lead to, and nothing else with letters."""
    children = [c for c in tag.children if re.search(r"\w", c.get_text() if isinstance(c, Tag) else str(c))]
    return (
        len(children) >= 3
        and all(isinstance(c, Tag) and c.name == "a" for c in children[:-1])
        and " ".join(children[-1].get_text().split()) == title
    )


def _is_pager(link: Tag) -> bool:
    """ "Previous"/"Next" as the link's own first string, followed by the target page's title."""
    strings = [s.strip() for s in link.find_all(string=True) if s.strip()]
    return len(strings) >= 2 and strings[0].lower() in PAGER_WORDS


def _outermost_with_text(text: NavigableString) -> Tag | None:
    """The largest element whose whole text is ``text``: the block that holds nothing but that title."""
    element, wanted = text.parent, text.strip()
    if not isinstance(element, Tag):
        return None
    while isinstance(element.parent, Tag) and element.parent.get_text(strip=True) == wanted:
        element = element.parent
    return element


def _stands_alone(tag: Tag) -> bool:
    """Not a link, and no sentence around it: "more details on this page" is prose, not a contents title."""
    if tag.name == "a" or not isinstance(tag.parent, Tag):
        return False
    return not any(type(s) is NavigableString and re.search(r"\w", s) for s in tag.parent.children)


def _links_only(tag: Tag) -> bool:
    links = tag.find_all("a") if tag.name != "a" else [tag]
    if not links:
        return False
    rest = tag.get_text() if tag.name != "a" else ""
    for link in links if tag.name != "a" else []:
        rest = rest.replace(link.get_text(), "", 1)
    return not re.search(r"\w", rest)


def _anchor_list(listing: Tag) -> bool:
    """Every item is only in-page ``#anchor`` links: a table of contents."""
    items = listing.find_all("li")
    links = listing.find_all("a")
    return (
        bool(items and links)
        and all((link.get("href") or "").startswith("#") for link in links)
        and _links_only(listing)
    )


def mark_inline_labels(root: Tag) -> None:
    """Give a label element that opens a paragraph, with the callout's text after it, its colon."""
    for text in root.find_all(string=lambda s: LABEL.fullmatch(s.strip()) is not None and ":" not in s):
        element = text.parent
        if not isinstance(element, Tag) or element.name not in INLINE_LABEL_TAGS:
            continue
        after = element.next_sibling
        first = (
            element.parent.find(string=lambda s: bool(s.strip())) if isinstance(element.parent, Tag) else None
        )
        if first is text and type(after) is NavigableString and re.match(r"\s*\w", after):
            text.replace_with(f"{text.rstrip()}:")


# --- on the Markdown blocks ---------------------------------------------------------------------------------


def clean_blocks(blocks: list[str]) -> list[str]:
    """Drop widget and UI-action paragraphs; merge lone labels and step numbers into the next block."""
    kept: list[str] = []
    after_widget = False
    for block in blocks:
        widget = _is_paragraph(block) and WIDGET.match(block) is not None and len(block) <= WIDGET_MAX_CHARS
        answers = after_widget and VOTE_ANSWERS.fullmatch(block)  # Yes/No may sit in a block of their own
        if not (widget or answers or _is_debris(block)):
            kept.append(block)
        after_widget = widget
    out: list[str] = []
    index = 0
    while index < len(kept):
        block, following = kept[index], kept[index + 1] if index + 1 < len(kept) else None
        paragraph = _is_paragraph(block)
        label = LABEL.fullmatch(block) if paragraph else None
        number = STEP_NUMBER.fullmatch(block) if paragraph else None
        if label:
            merged = _with_label(label.group(1), following)
            if merged is not None:
                out.append(merged)
                index += 1
        elif number and following is not None and _is_paragraph(following):
            out.append(f"{number.group(1)}. {following}")
            index += 1
        else:
            out.append(block)
        index += 1
    return out


def _is_debris(block: str) -> bool:
    """A bare ``:::`` fence or a paragraph of UI actions only."""
    text = " ".join(block.split())
    return (
        _is_paragraph(block) and (FENCE_ONLY.fullmatch(text) or UI_ACTIONS_ONLY.fullmatch(text)) is not None
    )


def is_meta_line(text: str) -> bool:
    """A byline or date line: a strong meta signal, and no more than a short name besides meta phrases."""
    if len(text) > META_MAX_CHARS:
        return False
    strong = STRONG_META.search(text) or (UPDATED_WORD.search(text) and WHEN.search(text))
    if not strong:
        return False
    rest = " ".join(META_PIECE.sub(" ", text).split())
    return NAME.fullmatch(rest) is not None


def _with_label(label: str, following: str | None) -> str | None:
    """The callout's text with its label in front, or None when there is no text to carry the label."""
    label = label.capitalize()
    if following is None:
        return None
    if LIST_LINE.match(following):
        return f"{label}:\n{following}"
    if _is_paragraph(following):
        return f"{label}: {following}"
    return None


def _is_paragraph(block: str) -> bool:
    """Plain text: not a heading, list, code block, table or quote."""
    return not (block.startswith(("#", "```", "|", ">")) or LIST_LINE.match(block))
