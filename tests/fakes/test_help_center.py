"""The Mastodon help center renderer: every page, no Hugo syntax, honest chrome markers, sitemaps."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import lxml.etree
import lxml.html
import pytest

from fakes.help_center import CHROME_MARKERS, MASTODON_DOCS, TRAP_PATH, render_mastodon_docs
from supportloop.demo_site import serve_demo_site

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Rendered once for the module: the output folder and the URL paths returned."""
    out = tmp_path_factory.mktemp("mastodon-site")
    return out, render_mastodon_docs(out)


def _html(out: Path, url: str) -> str:
    return (out / url.strip("/") / "index.html").read_text(encoding="utf-8")


def _sources() -> list[Path]:
    return sorted(MASTODON_DOCS.rglob("*.md"))


def test_one_page_per_markdown_file_with_title_and_h1(site: tuple[Path, list[str]]) -> None:
    out, paths = site
    assert len(paths) == len(_sources()) == 193
    assert paths == sorted(set(paths))
    assert {"/", "/user/signup/", "/methods/admin/", "/entities/Status/"} <= set(paths)
    assert TRAP_PATH not in paths
    for url in paths:
        doc = lxml.html.fromstring(_html(out, url))
        assert doc.findtext(".//title").strip(), url
        h1 = doc.xpath('//main//div[@class="td-content"]/h1')  # admin/roles.md has a second, "# Roles"
        assert h1 and h1[0].text_content().strip() and doc.findtext(".//title").startswith(h1[0].text), url


def test_no_hugo_syntax_survives(site: tuple[Path, list[str]]) -> None:
    out, _ = site
    pages = sorted(out.rglob("index.html"))
    assert len(pages) == 194  # the trap page too
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for raw in ("{{<", "{{%", "{#"):
            assert raw not in text, (page, raw)


def test_chrome_markers_are_on_every_page_and_in_no_source(site: tuple[Path, list[str]]) -> None:
    out, paths = site
    for url in [*paths, TRAP_PATH]:
        text = " ".join(lxml.html.fromstring(_html(out, url)).text_content().split())
        missing = [marker for marker in CHROME_MARKERS if marker not in text]
        assert not missing, (url, missing)
    for source in _sources():
        lowered = source.read_text(encoding="utf-8").lower()
        assert not [marker for marker in CHROME_MARKERS if marker.lower() in lowered], source


def test_sitemaps_list_exactly_the_rendered_pages(site: tuple[Path, list[str]]) -> None:
    out, paths = site
    index = lxml.etree.parse(str(out / "sitemap.xml")).getroot()
    assert index.tag == f"{SITEMAP}sitemapindex"
    sitemap_locs = [loc.text for loc in index.iter(f"{SITEMAP}loc")]
    assert sitemap_locs == ["__BASE_URL__/sitemap-user.xml", "__BASE_URL__/sitemap-reference.xml"]
    listed: list[str] = []
    for loc in sitemap_locs:
        urlset = lxml.etree.parse(str(out / loc.rsplit("/", 1)[1])).getroot()
        assert urlset.tag == f"{SITEMAP}urlset"
        for url in urlset.iter(f"{SITEMAP}url"):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", url.findtext(f"{SITEMAP}lastmod"))
            listed.append(url.findtext(f"{SITEMAP}loc"))
    assert sorted(listed) == sorted(f"__BASE_URL__{path}" for path in paths)
    assert f"__BASE_URL__{TRAP_PATH}" not in listed


def test_trap_is_disallowed_but_linked_from_every_footer(site: tuple[Path, list[str]]) -> None:
    out, paths = site
    robots = (out / "robots.txt").read_text()
    assert "User-agent: *" in robots and "Disallow: /drafts/" in robots
    assert "Sitemap: __BASE_URL__/sitemap.xml" in robots
    assert "direct messages" in _html(out, TRAP_PATH)
    for url in paths:
        footer = lxml.html.fromstring(_html(out, url)).xpath('//footer[contains(@class, "td-footer")]')[0]
        assert TRAP_PATH in footer.xpath(".//a/@href"), url


def test_code_block_language_survives(site: tuple[Path, list[str]]) -> None:
    out, _ = site
    fences = len(re.findall(r"^```bash\s*$", (MASTODON_DOCS / "admin/install.md").read_text(), re.M))
    assert fences > 5
    assert _html(out, "/admin/install/").count('<code class="language-bash">') == fences


def test_headings_links_sidebar_and_toc(site: tuple[Path, list[str]]) -> None:
    out, paths = site
    signup = lxml.html.fromstring(_html(out, "/user/signup/"))
    assert (
        signup.xpath('//div[@class="td-content"]/h2[@id="picker"]')[0].text_content() == "Choosing a website"
    )
    assert "#picker" in signup.xpath('//div[contains(@class, "td-toc")]//nav[@id="TableOfContents"]//a/@href')
    sidebar = signup.xpath('//div[contains(@class, "td-sidebar")]//nav[contains(@class, "td-sidebar-nav")]')[
        0
    ]
    assert {p for p in paths if p.startswith("/user/")} <= set(sidebar.xpath(".//a/@href"))
    assert signup.xpath('//nav[@aria-label="breadcrumb"]/ol[@class="breadcrumb"]/li')
    # relref resolves case-insensitively, as Hugo does; a file-relative link reaches its sibling page
    statuses = lxml.html.fromstring(_html(out, "/methods/statuses/")).xpath("//main//a/@href")
    assert "/entities/Status/" in statuses
    allows = lxml.html.fromstring(_html(out, "/methods/admin/domain_allows/")).xpath("//main//a/@href")
    assert "/methods/admin/domain_blocks/" in allows


def test_served_robots_and_sitemap_carry_the_base_url(site: tuple[Path, list[str]]) -> None:
    out, _ = site
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with serve_demo_site(0, out) as base_url:
        robots = opener.open(f"{base_url}/robots.txt", timeout=5).read().decode()
        page = opener.open(f"{base_url}/api/datetime-format", timeout=5)  # Hugo-style link, no slash
        assert page.geturl() == f"{base_url}/api/datetime-format/"
    assert f"Sitemap: {base_url}/sitemap.xml" in robots
