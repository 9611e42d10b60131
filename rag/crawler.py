"""Crawl a help site: breadth-first from a start URL, following links on the same host.

robots.txt is obeyed for our user agent: disallowed pages are neither fetched nor indexed.
The crawler only fetches; ``rag.extract`` turns pages into text. Failures on the start URL are the
user's to fix and raise ``CrawlError``; a failure on any other page is counted and skipped, so one
broken link never sinks a crawl.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import httpx
from bs4 import BeautifulSoup
from protego import Protego

from core.errors import CrawlError
from core.progress import progress

log = logging.getLogger(__name__)
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class FetchedPage:
    url: str
    html: str


@dataclass
class CrawlResult:
    pages: list[FetchedPage] = field(default_factory=list)
    skipped: int = 0
    failed: int = 0


def normalise(url: str) -> str:
    """One spelling per page: no fragment, lower-case scheme and host, ``/`` for an empty path."""
    parts = urlsplit(urldefrag(url).url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def crawl(
    start_url: str,
    *,
    max_pages: int = 500,
    timeout_s: float = 10.0,
    max_page_bytes: int = 5_000_000,
    user_agent: str = "SupportLoopBot/0.1",
) -> CrawlResult:
    """Fetch up to ``max_pages`` HTML pages reachable from ``start_url`` on its host."""
    start = normalise(start_url.strip())
    parts = urlsplit(start)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CrawlError(f"Not an http(s) URL: {start_url!r}. Give the address of a help site.")
    result = CrawlResult()
    queue: deque[str] = deque([start])
    seen = {start}
    headers = {"User-Agent": user_agent}
    with (
        httpx.Client(headers=headers, timeout=timeout_s, follow_redirects=True) as client,
        progress(f"Crawling {parts.netloc}") as bar,
    ):
        robots = _robots(client, f"{parts.scheme}://{parts.netloc}/robots.txt")
        if not robots.can_fetch(start, user_agent):
            raise CrawlError(f"robots.txt of {parts.netloc} does not allow {user_agent} to fetch {start}.")
        while queue and len(result.pages) < max_pages:
            url = queue.popleft()
            allowed = robots.can_fetch(url, user_agent)
            if not allowed:
                log.info("skipping %s: disallowed by robots.txt", url)
            page = _fetch(client, url, max_page_bytes, is_start=url == start) if allowed else None
            if page is None:
                result.skipped += 1
                bar.advance(status=f"{len(result.pages)} pages, {result.skipped} skipped")
                continue
            if page.url != url and page.url in seen:  # a redirect to a page we already have
                continue
            seen.add(page.url)
            result.pages.append(page)
            for link in _links(page):
                if urlsplit(link).netloc == parts.netloc and link not in seen:
                    seen.add(link)
                    queue.append(link)
            bar.advance(status=f"{len(result.pages)} pages, {result.skipped} skipped")
    if not result.pages:
        raise CrawlError(f"Found no HTML pages at {start_url}.")
    log.info("crawled %s: %d pages, %d skipped", start, len(result.pages), result.skipped)
    return result


def _robots(client: httpx.Client, url: str) -> Protego:
    """The site's robots rules; a missing robots.txt (or one we cannot read) allows everything."""
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        log.info("could not read %s (%s); crawling as if it allowed everything", url, exc)
        return Protego.parse("")
    if response.status_code >= 500:
        log.warning("%s answered HTTP %s; crawling as if it allowed everything", url, response.status_code)
    return Protego.parse(response.text if response.status_code == 200 else "")


def _fetch(client: httpx.Client, url: str, max_bytes: int, *, is_start: bool) -> FetchedPage | None:
    """One page, or None for a page to skip; errors on the start URL are raised for the user."""
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        if is_start:
            raise CrawlError(f"Could not reach {url}: {exc or type(exc).__name__}.") from exc
        log.warning("skipping %s: %s", url, exc)
        return None
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    problem = None
    if response.status_code >= 400:
        problem = f"HTTP {response.status_code}"
    elif content_type not in HTML_TYPES:
        problem = f"not an HTML page (content type {content_type or 'unknown'})"
    elif len(response.content) > max_bytes:
        problem = f"larger than {max_bytes} bytes"
    if problem:
        if is_start:
            raise CrawlError(f"Cannot crawl {url}: {problem}.")
        log.info("skipping %s: %s", url, problem)
        return None
    return FetchedPage(url=normalise(str(response.url)), html=response.text)


def _links(page: FetchedPage) -> list[str]:
    soup = BeautifulSoup(page.html, "html.parser")
    links = []
    for anchor in soup.find_all("a", href=True):
        url = normalise(urljoin(page.url, anchor["href"]))
        if urlsplit(url).scheme in ("http", "https"):
            links.append(url)
    return links
