"""Main-text extraction on the bundled help center's real page chrome."""

import pytest

from rag.extract import extract
from supportloop.demo_site import SITE_DIR

PAGES = sorted(p for p in SITE_DIR.rglob("*.html") if p.parent.name != "internal")
CHROME = [
    "We use cookies",
    "Was this article helpful",
    "All rights reserved",
    "Skip to content",
    "Popular articles",
    "Follow us",
]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(SITE_DIR)))
def test_site_chrome_is_dropped_and_the_article_kept(page):
    extracted = extract(page.read_text(encoding="utf-8"))
    assert extracted.title
    assert extracted.markdown.startswith("# ")
    for boilerplate in CHROME:
        assert boilerplate not in extracted.markdown


def test_tables_lists_and_code_blocks_survive():
    plans = extract((SITE_DIR / "billing/plans.html").read_text()).markdown
    assert "| Feature | Free | Team | Business | Enterprise |" in plans
    assert "| Version history | 30 days | 90 days | 180 days | 365 days |" in plans
    tokens = extract((SITE_DIR / "developers/api-tokens.html").read_text()).markdown
    assert "```bash\ncurl -s \\\n" in tokens
    assert "1. In the web app, select your avatar > Settings > Developer > Personal access tokens." in tokens
    assert "## Rate limits" in tokens


def test_inline_markup_does_not_add_spaces_and_br_breaks_lines():
    html = "<main><p>Open <b>Settings</b>, then <code>tp</code>.<br>Next line</p></main>"
    assert extract(html).markdown == "Open Settings, then tp.\nNext line"


def test_a_page_without_text_extracts_to_nothing():
    assert extract("<html><body><nav>Home</nav><footer>© us</footer></body></html>").markdown == ""
    assert extract("").markdown == ""
