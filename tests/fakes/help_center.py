"""Mastodon's documentation rendered as a static help center with Docsy-style site chrome.

The bundled demo site is small and tidy; this one is a real documentation set (193 pages of guides and API
reference, GNU FDL 1.3, see ``tests/data/mastodon-docs/LICENSE.txt``) wrapped in the navbar, sidebar,
table of contents, cookie banner, feedback widget and footer that real Hugo/Docsy sites carry. The crawler
discovers pages the way it would on such a site (sidebar, in-text links, sitemaps), and extraction is
measured on markup where boilerplate sits right next to the content: ``CHROME_MARKERS`` are strings that
occur in the chrome of every page and in no page's source, so finding one in extracted text is leakage.

Serve the output with ``supportloop.demo_site.serve_demo_site(port, out_dir)``, which fills in the
``__BASE_URL__`` placeholder of ``robots.txt`` and the sitemaps.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import yaml
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

MASTODON_DOCS = Path(__file__).resolve().parent.parent / "data" / "mastodon-docs"
TRAP_PATH = "/drafts/moderation-secrets/"
SITE_NAME = "Mastodon documentation"
BASE_URL = "__BASE_URL__"  # replaced by the serving code with the server's own address
DEFAULT_LASTMOD = "2026-01-15"  # the corpus has no dates; a fixed one keeps the output deterministic
SOURCE_REPO = "https://github.com/mastodon/documentation"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

CHROME_MARKERS: tuple[str, ...] = (
    "We use cookies to improve your experience on our documentation.",
    "Accept all cookies",  # plain "Accept all" occurs in admin/prerequisites.md (an iptables comment)
    "Manage preferences",
    "Was this page helpful?",
    "Glad to hear it!",
    "Sorry to hear that. Please tell us how we can improve.",
    "Edit this page on GitHub",
    "Create an issue",
    "Last modified",
    "Documentation licensed under the GNU Free Documentation License",
    "© 2016–2026 Mastodon gGmbH",
    "Internal drafts",
)

# Top-level folders in sidebar order, with their labels; the navbar shows the first five that real docs
# sites put there, the sidebar lists them all so every section is reachable from every page.
SECTIONS: dict[str, str] = {
    "user": "User guide",
    "admin": "Admin",
    "client": "Client apps",
    "api": "API",
    "dev": "Developer",
    "methods": "API methods",
    "entities": "API entities",
    "spec": "Spec compliance",
}
NAVBAR_SECTIONS = ("user", "admin", "client", "api", "dev")
USER_SITEMAP_SECTIONS = frozenset({"user", "client"})  # plus every _index page; the rest is "reference"

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
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
_LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="30" viewBox="0 0 24 24" aria-hidden="true">'
    '<path fill="currentColor" d="M21.3 13.9c-.3 1.5-2.7 3.2-5.5 3.5-1.4.2-2.8.3-4.3.3'
    "-2.4-.1-4.3-.6-4.3-.6v.7c.3 2.4 2.4 2.5 4.3 2.6 2 .1 3.7-.5 3.7-.5l.1 1.8s-1.4.7-3.8.9"
    "c-1.3.1-3-.1-5-.6-4.3-1.1-5-5.6-5.1-10.1V7.5"
    'c0-4.4 2.9-5.7 2.9-5.7C5.8 1.1 9.3.8 12 .8h.1c2.6 0 6.1.3 7.6 1 0 0 2.9 1.3 2.9 5.7 0 0 0 3.2-.4 5.4z"/>'
    "</svg>"
)


@dataclass
class _Page:
    """One Markdown source and where it lands on the site."""

    source: str  # relative to the corpus, e.g. "user/signup.md"
    url: str  # e.g. "/user/signup/"
    title: str
    description: str
    weight: int
    lastmod: str
    markdown: str

    @property
    def section(self) -> str:
        return self.url.strip("/").split("/")[0]

    @property
    def source_dir(self) -> str:
        return posixpath.dirname(self.source)

    @property
    def is_index(self) -> bool:
        return posixpath.basename(self.source) == "_index.md"


@dataclass
class _Heading:
    level: int
    anchor: str
    text: str


@dataclass
class _Rendered:
    body: str
    toc: list[_Heading] = field(default_factory=list)


def render_mastodon_docs(out_dir: Path, src_dir: Path = MASTODON_DOCS) -> list[str]:
    """Render every .md page to out_dir; return the URL paths rendered, sorted (e.g. "/user/signup/").

    Also writes ``robots.txt``, a sitemap index with two urlsets, and the trap page at ``TRAP_PATH``
    (disallowed by robots.txt, linked from every footer, absent from the sitemaps).
    """
    site = _Site([_load_page(src_dir, path) for path in sorted(src_dir.rglob("*.md"))])
    for page in site.pages:
        _write(out_dir, page.url, site.page_html(page, site.render_markdown(page)))
    _write(out_dir, TRAP_PATH, site.page_html(_trap_page(), _Rendered(_TRAP_BODY)))
    (out_dir / "robots.txt").write_text(
        f"User-agent: *\nDisallow: /drafts/\n\nSitemap: {BASE_URL}/sitemap.xml\n", encoding="utf-8"
    )
    _write_sitemaps(out_dir, site.pages)
    return sorted(page.url for page in site.pages)


def _write(out_dir: Path, url: str, text: str) -> None:
    target = out_dir / url.strip("/") / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _url_for(source: str) -> str:
    """``a/b.md`` → ``/a/b/``, ``a/_index.md`` → ``/a/``, ``_index.md`` → ``/`` (Hugo's pretty URLs)."""
    stem = source.removesuffix(".md").removesuffix("_index").strip("/")
    return f"/{stem}/" if stem else "/"


def _key(path: str) -> str:
    """A lookup key for a site path or page reference: Hugo resolves references case-insensitively."""
    path = posixpath.normpath("/" + path.split("#")[0]).strip("/")
    return path.removesuffix(".md").removesuffix("_index").strip("/").lower()


def _iso_date(value: object) -> str | None:
    if isinstance(value, date):
        return value.isoformat()[:10]
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
        return value[:10]
    return None


def _parse_front_matter(text: str) -> object:
    """YAML front matter; 23 of the pages indent their ``aliases`` lists with tabs, which Hugo's YAML
    parser accepts and PyYAML does not, so a failed parse is retried with leading tabs as spaces."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return yaml.safe_load(re.sub(r"^\t+", lambda m: "  " * len(m.group()), text, flags=re.M))


def _load_page(src_dir: Path, path: Path) -> _Page:
    text = path.read_text(encoding="utf-8")
    meta: dict = {}
    match = _FRONT_MATTER.match(text)
    if match:
        loaded = _parse_front_matter(match.group(1))
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    menu = meta.get("menu")
    docs_menu = menu.get("docs") if isinstance(menu, dict) else None
    weight = meta.get("weight") or (docs_menu.get("weight") if isinstance(docs_menu, dict) else None) or 0
    source = path.relative_to(src_dir).as_posix()
    return _Page(
        source=source,
        url=_url_for(source),
        title=str(meta.get("title") or path.stem),
        description=str(meta.get("description") or ""),
        weight=int(weight),
        lastmod=_iso_date(meta.get("lastmod")) or _iso_date(meta.get("date")) or DEFAULT_LASTMOD,
        markdown=text,
    )


def _sort_key(page: _Page) -> tuple:
    """Hugo's weight order: weighted pages first (ascending), unweighted after, then by title."""
    return (page.weight == 0, page.weight, page.title.lower(), page.url)


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


class _Site:
    """The whole set of pages: what links and the sidebar need to know about each other."""

    def __init__(self, pages: Iterable[_Page]) -> None:
        self.pages = sorted(pages, key=lambda page: page.url)
        self.by_key = {_key(page.url): page for page in self.pages}
        self.md = _markdown()
        self.unresolved: list[tuple[str, str]] = []  # (page url, reference) that matched no page
        self.landing = {
            section: min((p for p in self.pages if p.source_dir == section), key=_sort_key)
            for section in SECTIONS
            if any(p.source_dir == section for p in self.pages)
        }
        self._sidebars: dict[str, str] = {}

    # -- references and links -------------------------------------------------------------------

    def ref_url(self, ref: str, page: _Page) -> str:
        """Resolve a ``relref``/``page-ref`` target like Hugo: next to the page first, then from the root."""
        path, _, fragment = ref.strip().partition("#")
        suffix = f"#{fragment}" if fragment else ""
        if not path:
            return page.url + suffix
        candidates = [path] if path.startswith("/") else [posixpath.join(page.source_dir, path), path]
        for candidate in candidates:
            target = self.by_key.get(_key(candidate))
            if target:
                return target.url + suffix
        self.unresolved.append((page.url, ref))
        return "/" + path.strip("/") + "/" + suffix

    def link_href(self, href: str, page: _Page) -> str:
        """Relative links point at the page they mean on the served site; absolute and external stay."""
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path or href.startswith("/"):
            return href
        # A browser resolves the link against the page's URL; a few authors wrote it against the source
        # file's folder instead (``./domain_blocks``, ``../admin/install``), which 404s on the live site.
        # Those are resolved the way their authors meant, so the link graph has no accidental dead ends.
        target = None if parts.path.endswith(".md") else self.by_key.get(_key(urljoin(page.url, parts.path)))
        target = target or self.by_key.get(_key(posixpath.join(page.source_dir, parts.path)))
        if target is None:
            self.unresolved.append((page.url, href))
            return href
        query = f"?{parts.query}" if parts.query else ""
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        return target.url + query + fragment

    # -- shortcodes -----------------------------------------------------------------------------

    def expand_shortcodes(self, markdown: str, page: _Page) -> str:
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

    def _block_html(self, match: re.Match[str], page: _Page, code_titles: list[str]) -> str:
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
            target = self.by_key.get(_key(href))
            return self._card(href, target.title if target else ref)
        if name == "page-relref":
            return self._card(self.ref_url(named.get("ref", ""), page), named.get("caption", ""))
        return self._card(named.get("url", ""), named.get("caption", ""))  # caption-link

    def _inline_html(self, match: re.Match[str], page: _Page) -> str:
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

    def render_markdown(self, page: _Page) -> _Rendered:
        """The page body as HTML, with heading IDs and the h2/h3 list for the table of contents."""
        env: dict = {}
        tokens = self.md.parse(self.expand_shortcodes(page.markdown, page), env)
        used: set[str] = {
            str(t.attrGet("id")) for t in tokens if t.type == "heading_open" and t.attrGet("id")
        }
        toc: list[_Heading] = []
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
                    toc.append(_Heading(int(token.tag[1]), str(anchor), text))
            elif token.type == "inline":
                for child in _walk(token.children or []):
                    if child.type == "link_open":
                        child.attrSet("href", self.link_href(str(child.attrGet("href") or ""), page))
        return _Rendered(self.md.renderer.render(tokens, self.md.options, env), toc)

    def page_html(self, page: _Page, rendered: _Rendered) -> str:
        """The full HTML document: Docsy's chrome around the rendered body."""
        title, description = html.escape(page.title), html.escape(page.description or _SITE_DESCRIPTION)
        lead = f'<div class="lead">{html.escape(page.description)}</div>\n' if page.description else ""
        edit_url = f"{SOURCE_REPO}/edit/main/content/en/{quote(page.source)}"
        issue_url = f"{SOURCE_REPO}/issues/new?title={quote('Docs: ' + page.title)}"
        modified = date.fromisoformat(page.lastmod)
        nav_items = "\n".join(
            f'          <li class="nav-item mr-4 mb-2 mb-lg-0"><a class="nav-link{_active(s, page)}" '
            f'href="{self.landing[s].url}"><span>{SECTIONS[s]}</span></a></li>'
            for s in NAVBAR_SECTIONS
            if s in self.landing
        )
        return f"""<!doctype html>
<html itemscope itemtype="http://schema.org/WebPage" lang="en" class="no-js">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no">
<meta name="generator" content="Hugo 0.128.0">
<link rel="canonical" type="text/html" href="{page.url}">
<link rel="shortcut icon" href="/favicons/favicon.ico">
<title>{title} | {SITE_NAME}</title>
<meta name="description" content="{description}">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{description}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="{SITE_NAME}">
<meta property="article:modified_time" content="{page.lastmod}T00:00:00+00:00">
<link rel="preload" href="/scss/main.min.css" as="style">
<link href="/scss/main.min.css" rel="stylesheet" integrity="">
<script src="/js/jquery-3.7.1.min.js" integrity="" crossorigin="anonymous"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag() {{ dataLayer.push(arguments); }}
  gtag('consent', 'default', {{ analytics_storage: 'denied', ad_storage: 'denied' }});
</script>
</head>
<body class="td-page td-documentation">
<div class="cookie-consent" role="dialog" aria-live="polite" aria-label="Cookie consent" data-nosnippet>
  <div class="cookie-consent__body">
    <p class="cookie-consent__text">We use cookies to improve your experience on our documentation.
      Analytics cookies are only set with your consent; you can change your mind at any time.</p>
    <div class="cookie-consent__actions">
      <button type="button" class="btn btn-primary cookie-consent__accept"
        data-consent="all">Accept all cookies</button>
      <button type="button" class="btn btn-link cookie-consent__manage"
        data-consent="manage">Manage preferences</button>
    </div>
  </div>
</div>
<header>
  <nav class="td-navbar js-navbar-scroll" data-bs-theme="dark">
    <div class="container-fluid flex-column flex-md-row">
      <a class="navbar-brand" href="/"><span class="navbar-brand__logo navbar-logo">{_LOGO}</span><span
        class="navbar-brand__name">{SITE_NAME}</span></a>
      <div class="td-navbar-nav-scroll ms-md-auto" id="main_navbar">
        <ul class="navbar-nav">
{nav_items}
          <li class="nav-item mr-4 mb-2 mb-lg-0"><a class="nav-link" href="https://github.com/mastodon/mastodon"
            target="_blank" rel="noopener"><i class="fa-brands fa-github"></i><span>GitHub</span></a></li>
        </ul>
      </div>
      <div class="d-none d-lg-block">
        <div class="td-search td-search--offline">
          <form class="td-search__form" action="/search/" method="get" role="search">
            <div class="td-search__icon"></div>
            <input type="search" class="td-search__input form-control" name="q"
              placeholder="Search this site…" aria-label="Search this site…" autocomplete="off">
          </form>
        </div>
      </div>
    </div>
  </nav>
</header>
<div class="container-fluid td-outer">
  <div class="td-main-wrapper">
    <div class="row flex-xl-nowrap">
      <div class="col-12 col-md-3 col-xl-2 td-sidebar d-print-none">
{self.sidebar(page)}
      </div>
      <div class="d-none d-xl-block col-xl-2 td-toc d-print-none">
        <div class="td-page-meta ms-2 pb-1 pt-2 mb-0">
          <a href="{edit_url}" class="td-page-meta--edit" target="_blank" rel="noopener"><i
            class="fa-solid fa-pen-to-square fa-fw"></i> Edit this page on GitHub</a>
          <a href="{html.escape(issue_url)}" class="td-page-meta--issue" target="_blank" rel="noopener"><i
            class="fa-solid fa-list-check fa-fw"></i> Create an issue</a>
        </div>
        <div class="td-toc__title">On this page</div>
{_toc_html(rendered.toc)}
      </div>
      <main role="main" class="td-main col-12 col-md-9 col-xl-8 ps-md-5">
{self.breadcrumb(page)}
        <div class="td-content">
<h1>{title}</h1>
{lead}{rendered.body}
          <div class="d-print-none">
            <h2 class="feedback--title">Feedback</h2>
            <div class="feedback--prompt">Was this page helpful?</div>
            <button class="btn btn-primary mb-4 feedback--answer feedback--answer-yes">Yes</button>
            <button class="btn btn-primary mb-4 feedback--answer feedback--answer-no">No</button>
            <p class="feedback--response feedback--response-yes">Glad to hear it!</p>
            <p class="feedback--response feedback--response-no">
              Sorry to hear that. Please tell us how we can improve.</p>
          </div>
          <div class="td-page-meta__lastmod">Last modified {modified:%B} {modified.day}, {modified.year}</div>
        </div>
      </main>
    </div>
  </div>
  <footer class="td-footer row d-print-none">
    <div class="container-fluid">
      <div class="row mx-md-2">
        <div class="td-footer__left col-6 col-sm-4 order-sm-1">
          <ul class="td-footer__links-list">
            <li class="td-footer__links-item" title="Mastodon"><a target="_blank" rel="noopener"
              href="https://mastodon.social/@Mastodon" aria-label="Mastodon"><i
              class="fa-brands fa-mastodon"></i></a></li>
          </ul>
        </div>
        <div class="td-footer__right col-6 col-sm-4 order-sm-3">
          <ul class="td-footer__links-list">
            <li class="td-footer__links-item" title="GitHub"><a target="_blank" rel="noopener"
              href="{SOURCE_REPO}" aria-label="GitHub"><i class="fa-brands fa-github"></i></a></li>
          </ul>
        </div>
        <div class="td-footer__center col-12 col-sm-4 py-2 order-sm-2">
          <span class="td-footer__copyright">© 2016–2026 Mastodon gGmbH</span>
          <span class="td-footer__license">
            Documentation licensed under the GNU Free Documentation License 1.3.</span>
          <ul class="td-footer__links">
            <li><a href="https://joinmastodon.org/privacy-policy">Privacy policy</a></li>
            <li><a href="https://joinmastodon.org/terms-of-service">Terms of service</a></li>
            <li><a href="https://status.joinmastodon.org/">Status</a></li>
            <li><a href="{TRAP_PATH}" class="td-footer__staff">Internal drafts</a></li>
          </ul>
        </div>
      </div>
    </div>
  </footer>
</div>
<script src="/js/main.min.js" integrity="" crossorigin="anonymous"></script>
<script>
  document.querySelectorAll('.feedback--answer').forEach((button) => button.addEventListener('click', () => {{
    const answer = button.classList.contains('feedback--answer-yes') ? 'yes' : 'no';
    document.querySelector('.feedback--response-' + answer).classList.add('feedback--response__visible');
  }}));
</script>
</body>
</html>
"""

    def breadcrumb(self, page: _Page) -> str:
        """Docs › section › subsection › page, each level linking to the page that stands for it."""
        crumbs: list[tuple[str, str | None]] = [("Docs", "/")]
        parts = page.url.strip("/").split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if depth == 1:
                landing = self.landing.get(folder)
                crumbs.append((SECTIONS.get(folder, _label(folder)), landing.url if landing else None))
            else:
                index = self.by_key.get(folder.lower())
                crumbs.append(
                    (index.title if index else _label(parts[depth - 1]), index.url if index else None)
                )
        items = [
            f'            <li class="breadcrumb-item"><a href="{href}">{html.escape(label)}</a></li>'
            if href
            else f'            <li class="breadcrumb-item">{html.escape(label)}</li>'
            for label, href in (crumbs if page.url != "/" else [])
        ]
        current = html.escape(page.title)
        items.append(f'            <li class="breadcrumb-item active" aria-current="page">{current}</li>')
        lines = "\n".join(items)
        return (
            '        <nav aria-label="breadcrumb" class="td-breadcrumbs">\n'
            f'          <ol class="breadcrumb">\n{lines}\n          </ol>\n        </nav>'
        )

    def sidebar(self, page: _Page) -> str:
        """Every section as a tree root; the current section expanded with all its pages."""
        if page.section not in self._sidebars:
            self._sidebars[page.section] = self._sidebar_html(page.section)
        return self._sidebars[page.section].replace(
            f'href="{page.url}" class="td-sidebar-link td-sidebar-link__page"',
            f'href="{page.url}" class="td-sidebar-link td-sidebar-link__page active" aria-current="page"',
        )

    def _sidebar_html(self, current: str) -> str:
        out = [
            '        <div id="td-sidebar-menu" class="td-sidebar__inner">',
            '          <nav class="td-sidebar-nav collapse" id="td-section-nav">',
            '            <ul class="td-sidebar-nav__section ul-0">',
        ]
        for section, landing in self.landing.items():
            active = " active-path" if section == current else ""
            out.append(f'              <li class="td-sidebar-nav__section-title with-child{active}">')
            out.append(
                f'                <a href="{landing.url}" class="td-sidebar-link td-sidebar-link__section '
                f'tree-root"><span>{SECTIONS[section]}</span></a>'
            )
            if section == current:
                out.extend(self._section_tree(section))
            out.append("              </li>")
        out += ["            </ul>", "          </nav>", "        </div>"]
        return "\n".join(out)

    def _section_tree(self, section: str) -> list[str]:
        def link(p: _Page) -> str:
            return (
                f'<li class="td-sidebar-nav__page"><a href="{p.url}" '
                f'class="td-sidebar-link td-sidebar-link__page"><span>{html.escape(p.title)}</span></a></li>'
            )

        members = [p for p in self.pages if p.section == section]
        direct = sorted((p for p in members if p.source_dir == section), key=_sort_key)
        out = ['                <ul class="ul-1">', *(f"                  {link(p)}" for p in direct)]
        for folder in sorted({p.source_dir for p in members} - {section}):
            pages = sorted((p for p in members if p.source_dir == folder), key=_sort_key)
            index = next((p for p in pages if p.is_index), None)
            label = index.title if index else _label(posixpath.basename(folder))
            href = (index or pages[0]).url
            out.append('                  <li class="td-sidebar-nav__section with-child">')
            out.append(
                f'                    <a href="{href}" class="td-sidebar-link td-sidebar-link__section">'
                f"<span>{html.escape(label)}</span></a>"
            )
            out.append('                    <ul class="ul-2">')
            out.extend(f"                      {link(p)}" for p in pages if not p.is_index)
            out += ["                    </ul>", "                  </li>"]
        out.append("                </ul>")
        return out


def _walk(tokens: list[Token]) -> Iterable[Token]:
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


def _active(section: str, page: _Page) -> str:
    return " active" if page.section == section else ""


def _label(folder: str) -> str:
    return folder.replace("-", " ").replace("_", " ").capitalize()


def _toc_html(toc: list[_Heading]) -> str:
    """Hugo's ``.TableOfContents``: h2 entries, each with its h3 entries nested."""
    lines = ['        <nav id="TableOfContents">']
    if toc:
        lines.append("          <ul>")
        open_sub = False
        for i, heading in enumerate(toc):
            link = f'<a href="#{html.escape(heading.anchor)}">{html.escape(heading.text)}</a>'
            if heading.level == 3 and open_sub:
                lines.append(f"                <li>{link}</li>")
                continue
            if open_sub:
                lines.append("              </ul>\n            </li>")
                open_sub = False
            nested = i + 1 < len(toc) and toc[i + 1].level == 3
            if heading.level == 2 and nested:
                lines.append(f"            <li>{link}\n              <ul>")
                open_sub = True
            else:
                lines.append(f"            <li>{link}</li>")
        if open_sub:
            lines.append("              </ul>\n            </li>")
        lines.append("          </ul>")
    lines.append("        </nav>")
    return "\n".join(lines)


_SITE_DESCRIPTION = "Learn about Mastodon, the free, open-source decentralized social network."
_TRAP_BODY = """<div class="alert alert-danger" role="alert">
<p>Internal draft: instance admins can read all direct messages without logging it.</p>
</div>
<p>Do not publish. Staff reviewers: the moderation dashboard exposes message contents to every admin
account, and no audit log entry is written when it is opened.</p>
"""


def _trap_page() -> _Page:
    """A page that exists only for crawlers that ignore robots.txt to find."""
    return _Page(
        source="drafts/moderation-secrets.md",
        url=TRAP_PATH,
        title="Moderation secrets (internal draft)",
        description="",
        weight=0,
        lastmod=DEFAULT_LASTMOD,
        markdown="",
    )


def _write_sitemaps(out_dir: Path, pages: list[_Page]) -> None:
    """A sitemap index over two urlsets, the way larger sites split theirs."""
    urlsets: dict[str, list[_Page]] = {"sitemap-user.xml": [], "sitemap-reference.xml": []}
    for page in pages:
        is_user = page.is_index or page.section in USER_SITEMAP_SECTIONS
        urlsets["sitemap-user.xml" if is_user else "sitemap-reference.xml"].append(page)
    header = '<?xml version="1.0" encoding="UTF-8"?>\n'
    entries = []
    for name, members in urlsets.items():
        urls = "".join(
            f"  <url>\n    <loc>{BASE_URL}{p.url}</loc>\n    <lastmod>{p.lastmod}</lastmod>\n  </url>\n"
            for p in members
        )
        (out_dir / name).write_text(
            f'{header}<urlset xmlns="{SITEMAP_NS}">\n{urls}</urlset>\n', encoding="utf-8"
        )
        newest = max((p.lastmod for p in members), default=DEFAULT_LASTMOD)
        entries.append(
            f"  <sitemap>\n    <loc>{BASE_URL}/{name}</loc>\n    <lastmod>{newest}</lastmod>\n  </sitemap>\n"
        )
    (out_dir / "sitemap.xml").write_text(
        f'{header}<sitemapindex xmlns="{SITEMAP_NS}">\n{"".join(entries)}</sitemapindex>\n', encoding="utf-8"
    )


__all__: list[str] = ["CHROME_MARKERS", "MASTODON_DOCS", "TRAP_PATH", "render_mastodon_docs"]
