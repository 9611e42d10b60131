"""Mastodon's documentation rendered as a static help center with Docsy-style site chrome.

The bundled demo site is small and tidy; this one is a real documentation set (193 pages of guides and API
reference, GNU FDL 1.3, see ``tests/data/mastodon-docs/LICENSE.txt``) wrapped in the navbar, sidebar,
table of contents, cookie banner, feedback widget and footer that real Hugo/Docsy sites carry. The crawler
discovers pages the way it would on such a site (sidebar, in-text links, sitemaps), and extraction is
measured on markup where boilerplate sits right next to the content: ``CHROME_MARKERS`` are strings that
occur in the chrome of every page and in no page's source, so finding one in extracted text is leakage.

Serve the output with ``supportloop.demo_site.serve_demo_site(port, out_dir)``, which fills in the
``__BASE_URL__`` placeholder of ``robots.txt`` and the sitemaps.

The pages (``help_center_pages``), their Markdown (``help_center_markdown``) and the chrome around them
(``help_center_chrome``) each have a module; this one renders the whole site.
"""

from __future__ import annotations

from pathlib import Path

from fakes.help_center_chrome import CHROME_MARKERS, TRAP_PATH, Chrome
from fakes.help_center_markdown import MarkdownRenderer, Rendered
from fakes.help_center_pages import DEFAULT_LASTMOD, Page, load_page

MASTODON_DOCS = Path(__file__).resolve().parent.parent / "data" / "mastodon-docs"
BASE_URL = "__BASE_URL__"  # replaced by the serving code with the server's own address
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
USER_SITEMAP_SECTIONS = frozenset({"user", "client"})  # plus every _index page; the rest is "reference"


def render_mastodon_docs(out_dir: Path, src_dir: Path = MASTODON_DOCS) -> list[str]:
    """Render every .md page to out_dir; return the URL paths rendered, sorted (e.g. "/user/signup/").

    Also writes ``robots.txt``, a sitemap index with two urlsets, and the trap page at ``TRAP_PATH``
    (disallowed by robots.txt, linked from every footer, absent from the sitemaps).
    """
    pages = sorted((load_page(src_dir, path) for path in sorted(src_dir.rglob("*.md"))), key=lambda p: p.url)
    markdown, chrome = MarkdownRenderer(pages), Chrome(pages)
    for page in pages:
        _write(out_dir, page.url, chrome.page_html(page, markdown.render(page)))
    _write(out_dir, TRAP_PATH, chrome.page_html(_trap_page(), Rendered(_TRAP_BODY)))
    (out_dir / "robots.txt").write_text(
        f"User-agent: *\nDisallow: /drafts/\n\nSitemap: {BASE_URL}/sitemap.xml\n", encoding="utf-8"
    )
    _write_sitemaps(out_dir, pages)
    return [page.url for page in pages]


def _write(out_dir: Path, url: str, text: str) -> None:
    target = out_dir / url.strip("/") / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


_TRAP_BODY = """<div class="alert alert-danger" role="alert">
<p>Internal draft: instance admins can read all direct messages without logging it.</p>
</div>
<p>Do not publish. Staff reviewers: the moderation dashboard exposes message contents to every admin
account, and no audit log entry is written when it is opened.</p>
"""


def _trap_page() -> Page:
    """A page that exists only for crawlers that ignore robots.txt to find."""
    return Page(
        source="drafts/moderation-secrets.md",
        url=TRAP_PATH,
        title="Moderation secrets (internal draft)",
        description="",
        weight=0,
        lastmod=DEFAULT_LASTMOD,
        markdown="",
    )


def _write_sitemaps(out_dir: Path, pages: list[Page]) -> None:
    """A sitemap index over two urlsets, the way larger sites split theirs."""
    urlsets: dict[str, list[Page]] = {"sitemap-user.xml": [], "sitemap-reference.xml": []}
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
