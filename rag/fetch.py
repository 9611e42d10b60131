"""Fetching one help page politely, for the crawl: robots.txt, per-host pacing, retries, redirects, checks.

``rag.crawler`` decides which pages to fetch (seeds, sitemaps, links, limits); a ``Fetcher`` fetches one
and says what came of it (an ``Outcome``), never raising for the page's own problems:

- robots.txt (RFC 9309, parsed by protego) for our user agent: disallowed pages are never fetched.
  A robots.txt that answers 4xx allows everything; one that cannot be read (5xx, network error) forbids
  everything, as the RFC asks. ``Crawl-delay`` slows our per-host pace when it asks for more than ours.
- Pages already indexed are re-fetched with ``If-None-Match``/``If-Modified-Since``; a 304 means
  unchanged and costs no download. 404/410 means gone.
- 5xx, 429 and timeouts are retried with exponential backoff (or the server's ``Retry-After``);
  redirects are followed by hand (each hop checked against scope and robots) up to ``max_redirects``;
  ``<link rel=canonical>`` names the page.
- Non-HTML, oversized (checked while streaming), binary and undecodable responses are skipped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import lxml.etree
import lxml.html
from bs4 import UnicodeDammit
from protego import Protego

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)
HTML_TYPES = ("text/html", "application/xhtml+xml")
TRACKING_PARAM = re.compile(
    r"^(utm_\w+|gclid|dclid|fbclid|msclkid|mc_cid|mc_eid|_ga|_gl|igshid|ref_src)$", re.I
)
DEFAULT_PORTS = {"http": 80, "https": 443}
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class CrawlConfig:
    """How far, how fast and how politely to crawl."""

    user_agent: str = "SupportLoopBot/0.1"
    max_pages: int = 500
    max_depth: int = 10
    concurrency: int = 4
    rate_per_host: float = 5.0
    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 0.5
    max_redirects: int = 5
    max_page_bytes: int = 5_000_000
    hosts: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] = ()
    use_sitemaps: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> CrawlConfig:
        return cls(
            user_agent=settings.user_agent,
            max_pages=settings.crawl_max_pages,
            max_depth=settings.crawl_max_depth,
            concurrency=settings.crawl_concurrency,
            rate_per_host=settings.crawl_rate_per_host,
            timeout_s=settings.crawl_timeout_s,
            retries=settings.crawl_retries,
            max_redirects=settings.crawl_max_redirects,
            max_page_bytes=settings.crawl_max_page_bytes,
            hosts=tuple(settings.crawl_hosts),
            path_prefixes=tuple(settings.crawl_path_prefixes),
            use_sitemaps=settings.crawl_use_sitemaps,
        )


@dataclass(frozen=True)
class PageState:
    """What the index remembers of a page, so a re-crawl can ask the server whether it changed."""

    etag: str = ""
    last_modified: str = ""
    content_hash: str = ""
    depth: int = 0
    from_sitemap: bool = False


@dataclass(frozen=True)
class FetchedPage:
    url: str
    html: str
    depth: int
    from_sitemap: bool
    etag: str = ""
    last_modified: str = ""
    lastmod: str = ""  # the sitemap's <lastmod>, else the Last-Modified header


def normalise(url: str) -> str:
    """One spelling per page: no fragment or tracking parameters, lower-case host, default port dropped."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = urlencode(
        sorted(
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAM.match(k)
        )
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


@dataclass(frozen=True)
class Seed:
    url: str
    depth: int
    from_sitemap: bool
    lastmod: str = ""


@dataclass(frozen=True)
class Outcome:
    kind: str  # page | unchanged | gone | failed | skipped
    seed: Seed
    page: FetchedPage | None = None
    links: tuple[str, ...] = ()
    reason: str = ""


class Scope:
    def __init__(self, hosts: Iterable[str], prefixes: Sequence[str]) -> None:
        self.hosts = {h.lower() for h in hosts}
        self.prefixes = tuple(prefixes)

    def __contains__(self, url: str) -> bool:
        parts = urlsplit(url)
        return (
            parts.scheme in ("http", "https")
            and parts.netloc in self.hosts
            and (not self.prefixes or parts.path.startswith(self.prefixes))
        )


class _Pacer:
    """Spaces requests to each host at least ``interval`` apart, across all worker threads."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, interval: float) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + interval
        if slot > now:
            time.sleep(slot - now)


class Fetcher:
    """HTTP for the crawl: robots rules per host, pacing, retries, redirects, size and type checks."""

    def __init__(self, client: httpx.Client, config: CrawlConfig, scope: Scope) -> None:
        self.client = client
        self.config = config
        self.scope = scope
        self.pacer = _Pacer()
        self._robots: dict[str, Protego] = {}
        self.robots_problems: dict[str, str] = {}  # origin -> why its robots.txt could not be read
        self._robots_lock = threading.Lock()

    def robots(self, url: str) -> Protego:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            if origin not in self._robots:
                self._robots[origin] = self._read_robots(origin + "/robots.txt")
            return self._robots[origin]

    def _read_robots(self, url: str) -> Protego:
        origin = url.removesuffix("/robots.txt")
        try:
            response = self.request(url, {})
        except httpx.HTTPError as exc:
            self.robots_problems[origin] = str(exc) or type(exc).__name__
            response = None
        if response is not None and response.status_code >= 500:
            self.robots_problems[origin] = f"robots.txt answered HTTP {response.status_code}"
        if origin in self.robots_problems:
            log.info(
                "cannot read %s (%s): crawling nothing there, as RFC 9309 asks",
                url,
                self.robots_problems[origin],
            )
            return Protego.parse("User-agent: *\nDisallow: /")
        assert response is not None
        return Protego.parse(response.text if response.status_code < 400 else "")

    def allowed(self, url: str) -> bool:
        return self.robots(url).can_fetch(url, self.config.user_agent)

    def interval(self, url: str) -> float:
        delay = self.robots(url).crawl_delay(self.config.user_agent) or 0.0
        return max(float(delay), 1.0 / self.config.rate_per_host)

    def request(self, url: str, headers: Mapping[str, str], interval: float | None = None) -> httpx.Response:
        """GET with pacing and retries; the body is read only up to the size limit."""
        interval = 1.0 / self.config.rate_per_host if interval is None else interval
        attempt = 0
        while True:
            self.pacer.wait(urlsplit(url).netloc, interval)
            response = None
            try:
                response = self._get_limited(url, headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt >= self.config.retries:
                    raise
                log.info("retrying %s after %s", url, type(exc).__name__)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.config.retries:
                    return response
                log.info("retrying %s after HTTP %s", url, response.status_code)
            time.sleep(self._backoff(attempt, response))
            attempt += 1

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("retry-after", "") if response is not None else ""
        if retry_after.isdigit():
            return min(float(retry_after), MAX_RETRY_AFTER_S)
        return self.config.backoff_s * 2**attempt

    def _get_limited(self, url: str, headers: Mapping[str, str]) -> httpx.Response:
        with self.client.stream("GET", url, headers=dict(headers)) as response:
            limit = self.config.max_page_bytes
            declared = response.headers.get("content-length", "")
            body = bytearray()
            too_large = declared.isdigit() and int(declared) > limit
            if not too_large and response.status_code == 200:
                for piece in response.iter_bytes():
                    body.extend(piece)
                    if len(body) > limit:
                        too_large = True
                        break
            elif response.status_code != 200:
                body.extend(response.read()[: 64 * 1024] if response.status_code < 500 else b"")
        response._content = bytes(body)  # what we read; the rest of an oversized body stays unread
        response.extensions = {**response.extensions, "too_large": too_large}
        return response

    def fetch(self, seed: Seed, known: PageState | None) -> Outcome:
        """Fetch one page, following redirects by hand; never raises for the page's own problems."""
        url = seed.url
        conditional = {}
        if known and known.etag:
            conditional["If-None-Match"] = known.etag
        if known and known.last_modified:
            conditional["If-Modified-Since"] = known.last_modified
        visited = [url]
        for _ in range(self.config.max_redirects + 1):
            if not self.allowed(url):
                return Outcome("skipped", seed, reason="disallowed by robots.txt")
            try:
                response = self.request(url, conditional, self.interval(url))
            except httpx.HTTPError as exc:
                return Outcome("failed", seed, reason=str(exc) or type(exc).__name__)
            status = response.status_code
            if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                target = normalise(urljoin(url, response.headers["location"]))
                if target in visited:
                    return Outcome("skipped", seed, reason="redirect loop")
                if target not in self.scope:
                    return Outcome("skipped", seed, reason=f"redirects out of scope to {target}")
                visited.append(target)
                url, conditional = target, {}
                continue
            return self._outcome(seed, url, response)
        return Outcome("skipped", seed, reason=f"more than {self.config.max_redirects} redirects")

    def _outcome(self, seed: Seed, url: str, response: httpx.Response) -> Outcome:
        status = response.status_code
        if status == 304:
            return Outcome("unchanged", seed)
        if status in (404, 410):
            return Outcome("gone", seed, reason=f"HTTP {status}")
        if status >= 500 or status == 429:
            return Outcome("failed", seed, reason=f"HTTP {status}")
        if status >= 400 or status != 200:
            return Outcome("skipped", seed, reason=f"HTTP {status}")
        header = response.headers.get("content-type", "")
        content_type = header.split(";")[0].strip().lower()
        if content_type not in HTML_TYPES:
            return Outcome(
                "skipped", seed, reason=f"not an HTML page (content type {content_type or 'unknown'})"
            )
        if response.extensions.get("too_large"):
            return Outcome("skipped", seed, reason=f"larger than {self.config.max_page_bytes} bytes")
        body = response.content
        if b"\x00" in body[:4096]:
            return Outcome("skipped", seed, reason="binary content served as HTML")
        charset = response.charset_encoding
        html = UnicodeDammit(body, [charset] if charset else [], is_html=True).unicode_markup
        if html is None:
            return Outcome("skipped", seed, reason="text in an unknown encoding")
        return self._parsed(seed, url, response, html)

    def _parsed(self, seed: Seed, url: str, response: httpx.Response, html: str) -> Outcome:
        try:
            doc = lxml.html.document_fromstring(html)
        except (lxml.etree.ParserError, ValueError):
            return Outcome("skipped", seed, reason="no HTML document in the response")
        base = url
        for href in doc.xpath("//base/@href")[:1]:
            base = urljoin(url, href)
        robots_meta = " ".join(doc.xpath("//meta[@name='robots']/@content")).lower()
        links = () if "nofollow" in robots_meta else tuple(_links(doc, base))
        if "noindex" in robots_meta:
            return Outcome("skipped", seed, links=links, reason="marked noindex")
        canonical = next(
            (normalise(urljoin(base, h)) for h in doc.xpath("//link[@rel='canonical']/@href")), url
        )
        page = FetchedPage(
            url=canonical if canonical in self.scope else url,
            html=html,
            depth=seed.depth,
            from_sitemap=seed.from_sitemap,
            etag=response.headers.get("etag", ""),
            last_modified=response.headers.get("last-modified", ""),
            lastmod=seed.lastmod or response.headers.get("last-modified", ""),
        )
        return Outcome("page", seed, page=page, links=links)


def _links(doc: lxml.html.HtmlElement, base: str) -> Iterable[str]:
    for href in doc.xpath("//a/@href"):
        href = href.strip()
        if href and not href.startswith(("mailto:", "javascript:", "tel:", "#")):
            yield normalise(urljoin(base, href))
