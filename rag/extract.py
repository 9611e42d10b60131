"""Main-text extraction: a page's article as Markdown, without the site around it.

Navigation, cookie banners, sidebars, footers and "was this helpful?" widgets are dropped; headings,
paragraphs, lists, tables and code blocks (with their language) are kept, because the chunker splits on
headings and answers quote steps and tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag

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
        tag.decompose()
    for tag in soup.find_all(_is_chrome):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(LINE_BREAK)
    root = soup.find("main") or soup.find("article") or soup.find(attrs={"role": "main"}) or soup.body
    if root is None:
        return ExtractedPage(title, "")
    blocks = _blocks(root)
    markdown = "\n\n".join(b for b in blocks if b.strip())
    return ExtractedPage(title, re.sub(r"\n{3,}", "\n\n", markdown).strip())


def _title(soup: BeautifulSoup) -> str:
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


def _collapse(text: str) -> str:
    """HTML whitespace: runs become one space; a <br> becomes a line break."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(f" ?{LINE_BREAK} ?", "\n", text).strip()


def _blocks(node: Tag) -> list[str]:
    """Markdown blocks of ``node``'s children; loose inline text between blocks becomes a paragraph."""
    out: list[str] = []
    inline: list[str] = []

    def flush() -> None:
        text = _collapse("".join(inline))
        if text:
            out.append(text)
        inline.clear()

    for child in node.children:
        if isinstance(child, Tag) and child.name in BLOCKS:
            flush()
            out.extend(_block(child))
        elif isinstance(child, Tag):
            inline.append(child.get_text())
        elif type(child) is NavigableString:  # not a Comment, Doctype or other markup subclass
            inline.append(str(child))
    flush()
    return out


def _block(tag: Tag) -> list[str]:
    name = tag.name
    if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
        return [f"{'#' * int(name[1])} {_inline(tag)}"]
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
    lines = []
    for number, item in enumerate(tag.find_all("li", recursive=False), start=1):
        marker = f"{number}." if tag.name == "ol" else "-"
        nested = item.find_all(("ul", "ol"), recursive=False)
        code = item.find_all("pre")  # a command shown inside a step keeps its fence and language
        for sub in [*nested, *code]:
            sub.extract()
        lines.append(f"{'  ' * depth}{marker} {_inline(item)}")
        for block in code:
            lines.extend(_block(block))
        for sub in nested:
            lines.extend(_list_items(sub, depth + 1))
    return lines


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
