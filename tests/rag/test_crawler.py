"""The crawler against the bundled demo site and against scripted sites that go wrong, all on 127.0.0.1."""

import time
from urllib.parse import urlsplit

import pytest
from fakes.scripted_site import Response, ScriptedSite, page
from helpers import free_port

from core.errors import CrawlError
from rag.crawler import crawl
from rag.fetch import CrawlConfig, PageState, normalise
from supportloop.demo_site import serve_demo_site

FAST = CrawlConfig(rate_per_host=1000, backoff_s=0.01, timeout_s=2)


def paths(result) -> list[str]:
    return sorted(urlsplit(p.url).path for p in result.pages)


def test_crawls_every_linked_page_on_the_host_once(site_url):
    result = crawl([site_url + "/"], FAST)
    found = paths(result)
    assert len(found) == len(set(found)) >= 20
    assert "/billing/refunds.html" in found
    assert all("#" not in p.url for p in result.pages)
    assert not any(path.endswith(".txt") for path in found)  # a linked text file is skipped
    assert "/internal/staff-notes.html" not in found  # linked, but disallowed by robots.txt
    assert result.skipped >= 2


def test_a_sitemap_alone_is_enough_to_crawl(site_url):
    result = crawl([], FAST, sitemaps=[site_url + "/sitemap.xml"])
    assert len(result.pages) >= 20
    assert all(p.from_sitemap or p.depth > 0 for p in result.pages)
    assert any(p.lastmod for p in result.pages)


def test_max_pages_and_max_depth_bound_the_crawl(site_url):
    assert len(crawl([site_url + "/"], CrawlConfig(max_pages=3, rate_per_host=1000)).pages) == 3
    shallow = crawl([site_url + "/"], CrawlConfig(max_depth=0, use_sitemaps=False, rate_per_host=1000))
    assert paths(shallow) == ["/"]


def test_urls_are_normalised_to_one_spelling_per_page():
    assert normalise("http://127.0.0.1/a.html#part") == "http://127.0.0.1/a.html"
    assert normalise("HTTP://LocalHost:80") == "http://localhost/"
    assert (
        normalise("https://h.example:443/x?b=2&utm_source=mail&a=1&fbclid=z") == "https://h.example/x?a=1&b=2"
    )


def test_path_prefixes_keep_the_crawl_in_one_section(site_url):
    result = crawl([site_url + "/billing/"], CrawlConfig(path_prefixes=("/billing/",), rate_per_host=1000))
    assert paths(result) and all(p.startswith("/billing/") for p in paths(result))


def test_an_unreachable_url_is_a_clear_error():
    with pytest.raises(CrawlError, match=r"robots\.txt|Could not reach"):
        crawl([f"http://127.0.0.1:{free_port()}/"], FAST)


def test_a_non_html_start_url_is_a_clear_error(site_url):
    with pytest.raises(CrawlError, match="not an HTML page"):
        crawl([site_url + "/downloads/release-notes.txt"], FAST)


def test_a_missing_start_page_is_a_clear_error(site_url):
    with pytest.raises(CrawlError, match="HTTP 404"):
        crawl([site_url + "/no-such-page.html"], FAST)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "help.example", ""])
def test_a_non_http_url_is_refused_before_any_request(url):
    with pytest.raises(CrawlError, match="Not an http"):
        crawl([url])


def test_a_start_url_that_robots_disallows_is_refused(site_url):
    with pytest.raises(CrawlError, match=r"robots\.txt"):
        crawl([site_url + "/internal/staff-notes.html"], FAST)


# -- sites that go wrong: the crawl goes on -----------------------------------------------------------


def test_robots_disallowed_pages_are_never_fetched():
    site = ScriptedSite(
        {
            "/robots.txt": Response("User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
            "/": Response(page("Home", links=("/private/secret.html", "/ok.html"))),
            "/private/secret.html": Response(page("Secret")),
            "/ok.html": Response(page("Ok")),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], FAST)
    assert paths(result) == ["/", "/ok.html"]
    assert "/private/secret.html" not in site.paths()


def test_crawl_delay_in_robots_slows_our_pace():
    links = tuple(f"/p{i}.html" for i in range(3))
    site = ScriptedSite(
        {
            "/robots.txt": Response("User-agent: *\nCrawl-delay: 0.3\n", content_type="text/plain"),
            "/": Response(page("Home", links=links)),
            **{link: Response(page(link)) for link in links},
        }
    )
    with site.serve() as url:
        started = time.perf_counter()
        result = crawl([url + "/"], CrawlConfig(rate_per_host=1000, concurrency=4))
        elapsed = time.perf_counter() - started
    assert len(result.pages) == 4
    assert elapsed >= 0.9  # four pages, 0.3 s apart, whatever the concurrency


def test_pages_come_in_url_order_whatever_order_their_fetches_finish():
    """Chunks are embedded in batches and added to the vector graph in this order: in the order fetches
    finished, two crawls of an unchanged site gave indexes that ranked some questions differently."""
    links = ("/a.html", "/b.html", "/c.html")
    site = ScriptedSite(
        {
            "/": Response(page("Home", links=links)),
            "/a.html": Response(page("A"), delay_s=0.4),  # asked first, finishes last
            "/b.html": Response(page("B"), delay_s=0.2),
            "/c.html": Response(page("C")),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], CrawlConfig(rate_per_host=1000, concurrency=4, use_sitemaps=False))
    assert [urlsplit(p.url).path for p in result.pages] == ["/", "/a.html", "/b.html", "/c.html"]


def test_5xx_is_retried_and_a_page_that_keeps_failing_is_counted():
    attempts = {"n": 0}

    def flaky(_request):
        attempts["n"] += 1
        return Response("busy", status=503) if attempts["n"] < 3 else Response(page("Flaky"))

    site = ScriptedSite(
        {
            "/": Response(page("Home", links=("/flaky.html", "/broken.html", "/slow.html"))),
            "/flaky.html": flaky,
            "/broken.html": Response("oops", status=500),
            "/slow.html": Response(page("Slow"), delay_s=3),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], CrawlConfig(retries=2, backoff_s=0.01, timeout_s=0.5, rate_per_host=1000))
    assert paths(result) == ["/", "/flaky.html"]
    assert sorted(urlsplit(u).path for u in result.failed) == ["/broken.html", "/slow.html"]
    assert site.paths().count("/broken.html") == 3


def test_a_redirect_loop_and_too_many_redirects_are_skipped():
    redirect = lambda target: Response("", status=302, headers={"Location": target})  # noqa: E731
    site = ScriptedSite(
        {
            "/": Response(page("Home", links=("/a", "/chain0", "/moved"))),
            "/a": redirect("/b"),
            "/b": redirect("/a"),
            **{f"/chain{i}": redirect(f"/chain{i + 1}") for i in range(10)},
            "/moved": redirect("/new.html"),
            "/new.html": Response(page("New")),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], CrawlConfig(max_redirects=3, rate_per_host=1000))
    assert paths(result) == ["/", "/new.html"]
    assert site.paths().count("/a") == 1
    assert "/chain5" not in site.paths()


def test_an_oversized_page_is_not_downloaded_whole():
    site = ScriptedSite(
        {
            "/": Response(page("Home", links=("/huge.html", "/declared.html"))),
            "/huge.html": Response("<html><body>", stream_bytes=50_000_000),
            "/declared.html": Response("x" * 2_000_000),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], CrawlConfig(max_page_bytes=1_000_000, rate_per_host=1000))
    assert paths(result) == ["/"]
    assert result.skipped == 2
    assert site.bytes_sent < 20_000_000  # we stopped reading long before 50 MB


def test_binary_and_non_utf8_and_malformed_pages():
    latin = (
        "<html><head><title>Caf\xe9</title></head><body><p>Cr\xe8me br\xfbl\xe9e pricing</p></body></html>"
    )
    site = ScriptedSite(
        {
            "/": Response(page("Home", links=("/bin.html", "/latin.html", "/meta.html", "/broken.html"))),
            "/bin.html": Response(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40),
            "/latin.html": Response(latin.encode("latin-1"), content_type="text/html; charset=iso-8859-1"),
            "/meta.html": Response(
                '<html><head><meta charset="windows-1252"><title>Meta</title></head>'
                "<body><p>Na\xefve \u2019quotes\u2019</p></body></html>".encode("windows-1252"),
                content_type="text/html",
            ),
            "/broken.html": Response("<html><body><h1>Broken <p>unclosed <table><tr><td>cell <div></span>"),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], FAST)
    by_path = {urlsplit(p.url).path: p.html for p in result.pages}
    assert sorted(by_path) == ["/", "/broken.html", "/latin.html", "/meta.html"]
    assert "Crème brûlée" in by_path["/latin.html"]
    assert "Naïve ’quotes’" in by_path["/meta.html"]


def test_a_sitemap_that_is_not_xml_does_not_stop_the_crawl():
    site = ScriptedSite(
        {
            "/robots.txt": Response(f"Sitemap: /sitemap.xml\n", content_type="text/plain"),  # noqa: F541
            "/sitemap.xml": Response("<html>this is not a sitemap", content_type="application/xml"),
            "/": Response(page("Home", links=("/a.html",))),
            "/a.html": Response(page("A")),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], FAST)
        with pytest.raises(CrawlError, match="not XML"):
            crawl([], FAST, sitemaps=[url + "/sitemap.xml"])
    assert paths(result) == ["/", "/a.html"]
    assert not result.sitemaps_read


def test_a_sitemap_index_leads_to_its_urlsets():
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    site = ScriptedSite(
        {
            "/sitemap.xml": Response(
                f"<sitemapindex {ns}><sitemap><loc>/sm1.xml</loc></sitemap></sitemapindex>",
                content_type="application/xml",
            ),
            "/sm1.xml": Response(
                f"<urlset {ns}><url><loc>/a.html</loc><lastmod>2026-01-02</lastmod></url></urlset>",
                content_type="application/xml",
            ),
            "/a.html": Response(page("A")),
        }
    )
    with site.serve() as url:
        result = crawl([], FAST, sitemaps=[url + "/sitemap.xml"])
    assert [(urlsplit(p.url).path, p.lastmod, p.from_sitemap) for p in result.pages] == [
        ("/a.html", "2026-01-02", True)
    ]


def test_canonical_links_and_noindex():
    site = ScriptedSite(
        {
            "/": Response(page("Home", links=("/a.html?utm_source=x", "/print/a.html", "/hidden.html"))),
            "/a.html": Response(page("A")),
            "/print/a.html": Response(
                '<html><head><link rel="canonical" href="/a.html"></head><body>A</body></html>'
            ),
            "/hidden.html": Response(
                '<html><head><meta name="robots" content="noindex"></head><body>x</body></html>'
            ),
        }
    )
    with site.serve() as url:
        result = crawl([url + "/"], FAST)
    assert paths(result) == ["/", "/a.html"]


def test_known_pages_are_fetched_conditionally():
    def conditional(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return Response("", status=304)
        return Response(page("A"), headers={"ETag": '"v1"'})

    site = ScriptedSite(
        {"/": Response(page("Home", links=("/a.html", "/gone.html"))), "/a.html": conditional}
    )
    with site.serve() as url:
        first = crawl([url + "/"], FAST)
        etag = next(p.etag for p in first.pages if p.url.endswith("/a.html"))
        known = {url + "/a.html": PageState(etag=etag, depth=1), url + "/gone.html": PageState(depth=1)}
        second = crawl([url + "/"], FAST, known=known)
    assert etag == '"v1"'
    assert second.unchanged == [url + "/a.html"]
    assert second.gone == [url + "/gone.html"]
    assert paths(second) == ["/"]


def test_a_demo_site_recrawl_downloads_nothing_unchanged(site_url):
    first = crawl([site_url + "/"], FAST)
    known = {p.url: PageState(etag=p.etag, last_modified=p.last_modified, depth=p.depth) for p in first.pages}
    second = crawl([site_url + "/"], FAST, known=known)
    assert not second.pages
    assert sorted(second.unchanged) == sorted(known)


def test_an_empty_site_is_a_clear_error(tmp_path):
    with serve_demo_site(0, site_dir=tmp_path) as url, pytest.raises(CrawlError, match="HTTP 404"):
        crawl([url + "/index.html"], FAST)
