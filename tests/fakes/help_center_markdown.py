"""The Mastodon docs' Markdown as Hugo renders it: shortcodes expanded, references resolved, heading IDs set.

The sources use Hugo shortcodes (hints, code figures, page cards, ``relref``) and Hugo's ``{#anchor}``
heading IDs; a plain Markdown renderer would leave them as literal braces, and links written against the
source tree would 404. ``MarkdownRenderer`` does what Hugo's templates do, so the served pages carry the
markup (alerts, figures, link cards, a table of contents) that extraction meets on a real docs site.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from fakes.help_center_pages import Page, key

_SHORTCODE = re.compile(r"\{\{([<%])\s*(/?)\s*([\w-]+)(.*?)\s*[>%]\}\}", re.S)
_ARG = re.compile(r'(?:([\w-]+)\s*=\s*)?"([^"]*)"')
_HEADING_ID = re.compile(r"\s*\{#([^}\s]+)\}\s*$")
_BLOCK_SHORTCODES = frozenset({"hint", "code", "figure", "page-ref"})
_CARD_SHORTCODES = frozenset({"page-ref", "page-relref", "caption-link"})  # block cards when alone
_BADGES = frozenset({"required", "optional", "nullable", "deprecated", "removed"})
_ARROW_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 24 24" aria-hidden="true">'
    '<path fill="currentColor" d="M4 11v2h12l-5.5 5.5l1.42 1.42L19.84 12l-7.92-7.92L10.5 5.5L16 11z"/></svg>'
)


@dataclass
class Heading:
    level: int
    anchor: str
    text: str


@dataclass
class Rendered:
    body: str
    toc: list[Heading] = field(default_factory=list)


def _args(text: str) -> tuple[list[str], dict[str, str]]:
    """Positional and named arguments of a shortcode, with HTML entities in values decoded."""
    positional: list[str] = []
    named: dict[str, str] = {}
    for name, value in _ARG.findall(text):
        if name:
            named[name] = html.unescape(value)
        else:
            positional.append(html.unescape(value))
    return positional, named


def _slug(text: str) -> str:
    """Hugo's "github" heading IDs: lower case, spaces to hyphens, other punctuation dropped."""
    kept = (ch if ch.isalnum() or ch in "-_" else "-" if ch.isspace() else "" for ch in text.strip().lower())
    return "".join(kept) or "section"


def _inline_text(token: Token) -> str:
    """The visible text of an inline token, for the table of contents."""
    parts = [
        child.content if child.type in ("text", "code_inline") else " "
        for child in token.children or []
        if child.type in ("text", "code_inline", "softbreak")
    ]
    return " ".join("".join(parts).split())


def _strip_heading_ids(state: StateCore) -> None:
    """Turn Hugo's ``## Title {#anchor}`` into an ``id`` before inline parsing sees the braces."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and i + 1 < len(tokens) and tokens[i + 1].type == "inline":
            match = _HEADING_ID.search(tokens[i + 1].content)
            if match:
                token.attrSet("id", match.group(1))
                tokens[i + 1].content = tokens[i + 1].content[: match.start()]


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    md.core.ruler.before("inline", "heading_ids", _strip_heading_ids)
    default_fence = md.renderer.rules["fence"]

    def fence(self: object, tokens: list[Token], idx: int, options: object, env: dict) -> str:
        """Hugo wraps highlighted code in ``div.highlight``; the ``language-xxx`` class is kept."""
        return f'<div class="highlight">{default_fence(tokens, idx, options, env)}</div>\n'

    md.add_render_rule("fence", fence)
    return md


class MarkdownRenderer:
    """Renders any page of the set: references and links resolve against every page in it."""

    def __init__(self, pages: Iterable[Page]) -> None:
        self.by_key = {key(page.url): page for page in pages}
        self.md = _markdown()

    # -- references and links -------------------------------------------------------------------

    def ref_url(self, ref: str, page: Page) -> str:
        """Resolve a ``relref``/``page-ref`` target like Hugo: next to the page first, then from the root."""
        path, _, fragment = ref.strip().partition("#")
        suffix = f"#{fragment}" if fragment else ""
        if not path:
            return page.url + suffix
        candidates = [path] if path.startswith("/") else [posixpath.join(page.source_dir, path), path]
        for candidate in candidates:
            target = self.by_key.get(key(candidate))
            if target:
                return target.url + suffix
        return "/" + path.strip("/") + "/" + suffix

    def link_href(self, href: str, page: Page) -> str:
        """Relative links point at the page they mean on the served site; absolute and external stay."""
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path or href.startswith("/"):
            return href
        # A browser resolves the link against the page's URL; a few authors wrote it against the source
        # file's folder instead (``./domain_blocks``, ``../admin/install``), which 404s on the live site.
        # Those are resolved the way their authors meant, so the link graph has no accidental dead ends.
        target = None if parts.path.endswith(".md") else self.by_key.get(key(urljoin(page.url, parts.path)))
        target = target or self.by_key.get(key(posixpath.join(page.source_dir, parts.path)))
        if target is None:
            return href
        query = f"?{parts.query}" if parts.query else ""
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        return target.url + query + fragment

    # -- shortcodes -----------------------------------------------------------------------------

    def expand_shortcodes(self, markdown: str, page: Page) -> str:
        """Replace Hugo shortcodes with the HTML (or Markdown-embedded HTML) their templates produce."""
        lines: list[str] = []
        code_titles: list[str] = []
        for line in markdown.split("\n"):
            matches = [m for m in _SHORTCODE.finditer(line) if self._is_block(m, line)]
            if not matches:
                lines.append(line)
                continue
            indent = line[: len(line) - len(line.lstrip())]
            position = 0
            for match in matches:
                before = line[position : match.start()].strip()
                if before:
                    lines.append(indent + before)
                block = self._block_html(match, page, code_titles)
                lines += ["", *(indent + part for part in block.split("\n")), ""]
                position = match.end()
            after = line[position:].strip()
            if after:
                lines.append(indent + after)
        return _SHORTCODE.sub(lambda m: self._inline_html(m, page), "\n".join(lines))

    @staticmethod
    def _is_block(match: re.Match[str], line: str) -> bool:
        name = match.group(3)
        return name in _BLOCK_SHORTCODES or (name in _CARD_SHORTCODES and line.strip() == match.group(0))

    def _card(self, href: str, caption: str) -> str:
        """Mastodon's link cards (``page-ref``, ``page-relref``, ``caption-link``): an arrow and a caption."""
        return (
            f'<a href="{html.escape(href)}" class="page-ref">\n'
            f'  <div class="page-ref-icon">{_ARROW_ICON}</div>\n'
            f"  {html.escape(caption)}\n</a>"
        )

    def _block_html(self, match: re.Match[str], page: Page, code_titles: list[str]) -> str:
        closing, name = match.group(2) == "/", match.group(3)
        positional, named = _args(match.group(4))
        if name == "hint":
            style = re.sub(r"[^\w-]", "", named.get("style", "info")) or "info"
            return "</div>" if closing else f'<div class="alert alert-{style}" role="alert">'
        if name == "code":
            if not closing:
                code_titles.append(named.get("title", ""))
                return '<figure class="code-figure">'
            title = code_titles.pop() if code_titles else ""
            return f"<figcaption>\n  <p>{html.escape(title)}</p>\n</figcaption>\n</figure>"
        if name == "figure":
            src = named.get("src", "")
            if src and not urlsplit(src).scheme and not src.startswith("/"):
                src = "/" + src  # Hugo's relURL
            caption = html.escape(named.get("caption", ""))
            width = f' width="{html.escape(named["width"])}"' if "width" in named else ""
            return (
                f'<figure><img src="{html.escape(src)}" alt="{caption}"{width}/>'
                f"<figcaption><p>{caption}</p></figcaption></figure>"
            )
        if name == "page-ref":
            ref = named.get("page") or (positional[0] if positional else "")
            href = self.ref_url(ref, page)
            target = self.by_key.get(key(href))
            return self._card(href, target.title if target else ref)
        if name == "page-relref":
            return self._card(self.ref_url(named.get("ref", ""), page), named.get("caption", ""))
        return self._card(named.get("url", ""), named.get("caption", ""))  # caption-link

    def _inline_html(self, match: re.Match[str], page: Page) -> str:
        name = match.group(3)
        positional, named = _args(match.group(4))
        if name in ("relref", "ref"):
            return self.ref_url(positional[0] if positional else "", page)
        if name == "page-relref":
            href, caption = self.ref_url(named.get("ref", ""), page), named.get("caption", "")
            return f'<a href="{html.escape(href)}" class="page-ref">{html.escape(caption)}</a>'
        if name == "caption-link":
            href, caption = named.get("url", ""), named.get("caption", "")
            return f'<a href="{html.escape(href)}" class="page-ref">{html.escape(caption)}</a>'
        if name in _BADGES:
            return f'<span class="api-method-parameter-{name}">{name}</span>'
        return ""  # unknown shortcodes vanish; the content between a paired one's tags stays

    # -- rendering ------------------------------------------------------------------------------

    def render(self, page: Page) -> Rendered:
        """The page body as HTML, with heading IDs and the h2/h3 list for the table of contents."""
        env: dict = {}
        tokens = self.md.parse(self.expand_shortcodes(page.markdown, page), env)
        used: set[str] = {
            str(t.attrGet("id")) for t in tokens if t.type == "heading_open" and t.attrGet("id")
        }
        toc: list[Heading] = []
        for i, token in enumerate(tokens):
            if token.type == "heading_open":
                text = _inline_text(tokens[i + 1])
                anchor = token.attrGet("id")
                if not anchor:
                    anchor, base, n = _slug(text), _slug(text), 0
                    while anchor in used:
                        n += 1
                        anchor = f"{base}-{n}"
                    used.add(anchor)
                    token.attrSet("id", anchor)
                if token.tag in ("h2", "h3"):
                    toc.append(Heading(int(token.tag[1]), str(anchor), text))
            elif token.type == "inline":
                for child in _walk(token.children or []):
                    if child.type == "link_open":
                        child.attrSet("href", self.link_href(str(child.attrGet("href") or ""), page))
        return Rendered(self.md.renderer.render(tokens, self.md.options, env), toc)


def _walk(tokens: list[Token]) -> Iterable[Token]:
    for token in tokens:
        yield token
        yield from _walk(token.children or [])
