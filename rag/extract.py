"""Main-text extraction: a page's article as Markdown, without the site around it.

Navigation, cookie banners, sidebars, footers and "was this helpful?" widgets are dropped; headings,
paragraphs, lists, tables and code blocks (with their language) are kept, because the chunker splits on
headings and answers quote steps and tables (a heading's name in ``<code>`` keeps its backticks, so an
answer can show it). A ``<header>`` inside the article or ``<main>`` is the
article's own (its title), so it is kept and only its bylines go; the debris that help centers put inside
the article (bylines, read times, related-articles and contents blocks, UI labels) is handled by
``rag.debris``.

Steps stay whole: each list item is one line, "1. Open Settings.", its paragraphs joined by a space and
its nested lists and code blocks below it; an item with no text (a screenshot without a caption) is left
out and the items after it are numbered on, so no number appears without text. Steps written as
elements with their own number (``<div class="step"><span>1</span><div>Open…</div></div>``, two or more
in a row, counting up) become the same numbered list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag

from rag.debris import STEP_NUMBER, clean_blocks, drop_link_blocks, drop_meta_lines, mark_inline_labels

CHROME_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "iframe",
    "dialog",
)
CHROME_PATTERN = re.compile(
    r"cookie|consent|gdpr|banner|feedback|helpful|sidebar|breadcrumb|skip-link|newsletter|share|toc\b"
    r"|last-?mod|page-meta",
    re.IGNORECASE,
)
CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog"}
CONTENT_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "table"}
NOT_STEPS = CONTENT_TAGS | {"ul", "ol"}  # "<h2><span>1</span> Install</h2>" is a heading, not a step
LINE_BREAK = "\ue000"  # stands for <br> while source whitespace is collapsed, then becomes "\n"
BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "pre",
    "table",
    "blockquote",
    "dl",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "header",
    "details",
    "summary",
    "hr",
}


@dataclass(frozen=True)
class ExtractedPage:
    title: str
    markdown: str


def extract(html: str) -> ExtractedPage:
    """Return the page title and its main content as Markdown (empty when the page has no text)."""
    soup = BeautifulSoup(html, "html.parser")
    title = _title(soup)
    for tag in soup.find_all(CHROME_TAGS):
        if not tag.decomposed and not (tag.name == "header" and tag.find_parent(("article", "main"))):
            tag.decompose()
    for tag in soup.find_all(_is_chrome):
        if not tag.decomposed:
            tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(LINE_BREAK)
    root = soup.find("main") or soup.find("article") or soup.find(attrs={"role": "main"}) or soup.body
    if root is None:
        return ExtractedPage(title, "")
    drop_link_blocks(root)
    drop_meta_lines(root)
    mark_inline_labels(root)
    heading = root.find("h1")  # the article's own title, before a search box's "How can we help?"
    if isinstance(heading, Tag) and heading.get_text(strip=True):
        title = _inline(heading)
    blocks = clean_blocks([b for b in _blocks(root) if b.strip()])
    markdown = "\n\n".join(blocks)
    return ExtractedPage(title, re.sub(r"\n{3,}", "\n\n", markdown).strip())


def _title(soup: BeautifulSoup) -> str:
    """The first ``<h1>``, else the ``<title>`` without the site name."""
    heading = soup.find("h1")
    if heading and heading.get_text(strip=True):
        return _inline(heading)
    if soup.title and soup.title.string:
        return re.split(r"\s+[–|-]\s+", soup.title.string.strip())[0]
    return ""


def _is_chrome(tag: Tag) -> bool:
    if not isinstance(tag, Tag) or tag.name in ("html", "body", "main", "article"):
        return False
    if tag.attrs is None:
        return False
    if tag.get("role") in CHROME_ROLES or tag.get("aria-hidden") == "true" or tag.has_attr("hidden"):
        return True
    if tag.name in CONTENT_TAGS:  # a heading with id="cookies" is content about cookies
        return False
    names = " ".join([*tag.get("class", []), tag.get("id") or ""])
    return bool(names and CHROME_PATTERN.search(names))


def _inline(tag: Tag | NavigableString) -> str:
    text = tag.get_text() if isinstance(tag, Tag) else str(tag)
    return _collapse(text)


def _heading(tag: Tag) -> str:
    """A section heading's text, with a name set in code (a command, a setting, an API field) kept in
    backticks: such a section documents that name, and its sentences rarely repeat it, so an answer
    quoting them must show it (``rag.compose``)."""
    parts = []
    for child in tag.children:
        if isinstance(child, Tag):
            text = child.get_text()
            parts.append(f"`{text.strip()}`" if child.name == "code" and text.strip() else text)
        elif type(child) is NavigableString:  # not a Comment
            parts.append(str(child))
    return _collapse("".join(parts))


def _collapse(text: str) -> str:
    """HTML whitespace: runs become one space; a <br> becomes a line break."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(f" ?{LINE_BREAK} ?", "\n", text).strip()


def _blocks(node: Tag) -> list[str]:
    """Markdown blocks of ``node``'s children; loose inline text between blocks becomes a paragraph."""
    out: list[str] = []
    inline: list[str] = []
    steps = _numbered_steps(node)
    in_steps = False  # the last block written is a list of such steps

    def flush() -> None:
        nonlocal in_steps
        text = _collapse("".join(inline))
        if text:
            out.append(text)
            in_steps = False
        inline.clear()

    for child in node.children:
        if isinstance(child, Tag) and id(child) in steps:
            flush()
            number, label = steps[id(child)]
            label.extract()
            line = "\n".join(_item_lines(child, f"{number}.", 0)[0])
            if in_steps:
                out[-1] += "\n" + line  # one list block, so the steps are chunked together
            elif line:
                out.append(line)
            in_steps = bool(out)
        elif isinstance(child, Tag) and child.name in BLOCKS:
            flush()
            out.extend(_block(child))
            in_steps = False
        elif isinstance(child, Tag):
            inline.append(child.get_text())
        elif type(child) is NavigableString:  # not a Comment, Doctype or other markup subclass
            inline.append(str(child))
    flush()
    return out


def _block(tag: Tag) -> list[str]:
    name = tag.name
    if name == "h1":  # the page title, read the same way by ``_title`` and compared by the chunker
        return [f"# {_inline(tag)}"]
    if name in ("h2", "h3", "h4", "h5", "h6"):
        return [f"{'#' * int(name[1])} {_heading(tag)}"]
    if name in ("ul", "ol"):
        return ["\n".join(_list_items(tag, 0))]
    if name == "pre":
        code = tag.find("code")
        language = _language(code if isinstance(code, Tag) else tag)
        code_text = tag.get_text().replace(LINE_BREAK, "\n").strip("\n")
        return [f"```{language}\n{code_text}\n```"]
    if name == "table":
        return [_table(tag)]
    if name == "dl":
        return [
            f"**{_inline(item)}**" if item.name == "dt" else _inline(item)
            for item in tag.find_all(("dt", "dd"))
        ]
    if name == "blockquote":
        return ["\n".join(f"> {line}" for line in "\n\n".join(_blocks(tag)).splitlines())]
    if name == "hr":
        return []
    return _blocks(tag)


def _list_items(tag: Tag, depth: int) -> list[str]:
    """One line per item that has text, numbered from the list's ``start`` over the items kept."""
    lines = []
    start = tag.get("start")
    number = int(start) if isinstance(start, str) and start.strip().isdigit() else 1
    for item in tag.find_all("li", recursive=False):
        item_lines, numbered = _item_lines(item, f"{number}." if tag.name == "ol" else "-", depth)
        lines.extend(item_lines)
        number += numbered
    return lines


def _item_lines(item: Tag, marker: str, depth: int) -> tuple[list[str], bool]:
    """A step on one line (its paragraphs joined), then its code blocks and nested lists, and whether the
    marker was used: an item without text of its own gets no line, and its nested lists move up a level."""
    outer = item.find_parent(("ul", "ol"))
    nested = [sub for sub in item.find_all(("ul", "ol")) if sub.find_parent(("ul", "ol")) is outer]
    for sub in nested:
        sub.extract()
    code = item.find_all("pre")  # a command shown inside a step keeps its fence and language
    for block in code:
        block.extract()
    text = " ".join(" ".join(block.split()) for block in _blocks(item))
    lines = [f"{'  ' * depth}{marker} {text}"] if text else []
    for block in code:
        lines.extend(_block(block))
    for sub in nested:
        lines.extend(_list_items(sub, depth + 1 if text else depth))
    return lines, bool(text)


def _numbered_steps(node: Tag) -> dict[int, tuple[int, Tag]]:
    """Children that lead with their own step number, in runs of two or more counting up by one.

    Maps each such child (by ``id``) to its number and the element holding the number, which is removed
    when the step is written. A lone numbered element is more often a figure ("3 devices") than a step.
    """
    steps: dict[int, tuple[int, Tag]] = {}
    run: list[tuple[Tag, int, Tag]] = []

    def close() -> None:
        if len(run) >= 2:
            steps.update({id(tag): (number, label) for tag, number, label in run})

    for child in node.find_all(True, recursive=False):
        lead = None if child.name in NOT_STEPS else _lead_number(child)
        if lead and run and lead[0] == run[-1][1] + 1:
            run.append((child, *lead))
            continue
        close()
        run = [(child, *lead)] if lead else []
    close()
    return steps


def _lead_number(tag: Tag) -> tuple[int, Tag] | None:
    """The step number that opens ``tag`` in an element of its own, when text follows it."""
    first = next((d for d in tag.descendants if type(d) is NavigableString and d.strip()), None)
    if first is None:
        return None
    number = STEP_NUMBER.fullmatch(first.strip())
    if number is None or not isinstance(first.parent, Tag) or first.parent is tag:
        return None
    label = first.parent
    while label.parent is not tag and isinstance(label.parent, Tag):
        if label.parent.get_text(strip=True) != first.strip():
            break
        label = label.parent
    rest = tag.get_text(strip=True)[len(label.get_text(strip=True)) :]
    return (int(number.group(1)), label) if rest.strip() else None


def _language(tag: Tag) -> str:
    for cls in tag.get("class", []):
        if cls.startswith(("language-", "lang-")):
            return cls.split("-", 1)[1]
    return ""


def _table(tag: Tag) -> str:
    rows = [
        [_inline(cell).replace("|", "\\|") for cell in row.find_all(("th", "td"))]
        for row in tag.find_all("tr")
    ]
    rows = [row for row in rows if row]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)
