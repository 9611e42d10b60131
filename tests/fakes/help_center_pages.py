"""The Mastodon docs' pages as the fake help center sees them: each Markdown source, its URL and its place.

Hugo decides a page's URL from its file (pretty URLs), its order in the sidebar from front-matter weights,
and resolves references case-insensitively; these helpers do the same, so the rendered site links and
sorts the way the live one does.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

DEFAULT_LASTMOD = "2026-01-15"  # the corpus has no dates; a fixed one keeps the output deterministic

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

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


@dataclass
class Page:
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


def url_for(source: str) -> str:
    """``a/b.md`` → ``/a/b/``, ``a/_index.md`` → ``/a/``, ``_index.md`` → ``/`` (Hugo's pretty URLs)."""
    stem = source.removesuffix(".md").removesuffix("_index").strip("/")
    return f"/{stem}/" if stem else "/"


def key(path: str) -> str:
    """A lookup key for a site path or page reference: Hugo resolves references case-insensitively."""
    path = posixpath.normpath("/" + path.split("#")[0]).strip("/")
    return path.removesuffix(".md").removesuffix("_index").strip("/").lower()


def sort_key(page: Page) -> tuple:
    """Hugo's weight order: weighted pages first (ascending), unweighted after, then by title."""
    return (page.weight == 0, page.weight, page.title.lower(), page.url)


def load_page(src_dir: Path, path: Path) -> Page:
    """The page of one Markdown file under ``src_dir``: its front matter read, its body kept as Markdown."""
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
    return Page(
        source=source,
        url=url_for(source),
        title=str(meta.get("title") or path.stem),
        description=str(meta.get("description") or ""),
        weight=int(weight),
        lastmod=_iso_date(meta.get("lastmod")) or _iso_date(meta.get("date")) or DEFAULT_LASTMOD,
        markdown=text,
    )


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
