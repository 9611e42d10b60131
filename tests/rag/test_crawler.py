"""The crawler against the bundled demo site and against sites that go wrong, all on 127.0.0.1."""

import socket
from urllib.parse import urlsplit

import pytest

from core.errors import CrawlError
from rag.crawler import crawl, normalise
from supportloop.demo_site import SITE_DIR, serve_demo_site


def test_crawls_every_linked_page_on_the_host_once(site_url):
    result = crawl(site_url + "/")
    paths = [urlsplit(p.url).path for p in result.pages]
    assert len(paths) == len(set(paths))
    assert len(paths) >= 20
    assert "/billing/refunds.html" in paths
    assert all("#" not in p.url for p in result.pages)
    assert not any(path.endswith(".txt") for path in paths)  # a linked text file is skipped
    assert "/internal/staff-notes.html" not in paths  # linked, but disallowed by robots.txt
    assert result.skipped >= 2


def test_max_pages_bounds_the_crawl(site_url):
    assert len(crawl(site_url + "/", max_pages=3).pages) == 3


def test_urls_are_normalised_to_one_spelling_per_page():
    assert normalise("http://127.0.0.1/a.html#part") == "http://127.0.0.1/a.html"
    assert normalise("HTTP://LocalHost:8000") == "http://localhost:8000/"
    assert normalise("http://127.0.0.1/?q=1#x") == "http://127.0.0.1/?q=1"


def test_the_site_root_is_one_page_however_it_is_spelled(site_url):
    paths = [urlsplit(p.url).path for p in crawl(site_url).pages]
    assert paths.count("/") == 1 and "" not in paths


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_url_is_a_clear_error():
    with pytest.raises(CrawlError, match="Could not reach"):
        crawl(f"http://127.0.0.1:{closed_port()}/", timeout_s=2)


def test_a_non_html_start_url_is_a_clear_error(site_url):
    with pytest.raises(CrawlError, match="not an HTML page"):
        crawl(site_url + "/downloads/release-notes.txt")


def test_a_missing_start_page_is_a_clear_error(site_url):
    with pytest.raises(CrawlError, match="HTTP 404"):
        crawl(site_url + "/no-such-page.html")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "help.example", ""])
def test_a_non_http_url_is_refused_before_any_request(url):
    with pytest.raises(CrawlError, match="Not an http"):
        crawl(url)


def test_an_empty_site_is_a_clear_error(tmp_path):
    with serve_demo_site(0, site_dir=tmp_path) as url, pytest.raises(CrawlError, match="HTTP 404"):
        crawl(url + "/index.html")
    assert SITE_DIR.is_dir()


def test_a_start_url_that_robots_disallows_is_refused(site_url):
    with pytest.raises(CrawlError, match=r"robots\.txt"):
        crawl(site_url + "/internal/staff-notes.html")
