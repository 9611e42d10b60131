"""Crawl a help site politely: sitemaps and links, within scope and limits, several pages in flight.

The crawler only decides what to fetch; ``rag.fetch`` fetches each page (robots.txt, pacing, retries,
redirects, conditional GETs, type and size checks), ``rag.extract`` turns pages into text and
``rag.ingest`` decides what the index keeps. Rules it follows:

- Scope: the hosts of the start URLs and sitemaps (plus configured ones), optionally only under some
  path prefixes, at most ``max_depth`` links from a seed and ``max_pages`` pages in all.
- Seeds: the start URLs, the pages the given sitemaps (or, for start URLs, robots.txt's sitemaps)
  list, and pages indexed before, which are re-checked unless their sitemap dropped them.

Problems with the start URL are the user's to fix and raise ``CrawlError``; a problem with any other
page is counted and the crawl goes on.
"""

from __future__ import annotations

import gzip
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
import lxml.etree

from core.errors import CrawlError
from core.progress import Tracker, progress
from rag.fetch import CrawlConfig, FetchedPage, Fetcher, Outcome, PageState, Scope, Seed, normalise

log = logging.getLogger(__name__)
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
MAX_SITEMAPS = 50  # sitemap files read per crawl, index files included


@dataclass
class CrawlResult:
    """Pages fetched with their content, and what happened to the others."""

    pages: list[FetchedPage] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # known pages the server says are unchanged (304)
    gone: list[str] = field(default_factory=list)  # 404/410
    failed: list[str] = field(default_factory=list)  # errors that may pass (5xx, timeouts)
    unvisited: list[str] = field(default_factory=list)  # left in the frontier when max_pages was reached
    skipped: int = 0  # robots, not HTML, too large, binary, noindex, duplicates
    sitemaps_read: bool = True  # False when a sitemap could not be read: its pages may just be unlisted

    @property
    def reached(self) -> int:
        return len(self.pages) + len(self.unchanged)


def crawl(
    start_urls: Sequence[str] = (),
    config: CrawlConfig | None = None,
    *,
    sitemaps: Sequence[str] = (),
    known: Mapping[str, PageState] | None = None,
) -> CrawlResult:
    """Crawl from ``start_urls`` and/or ``sitemaps``; ``known`` pages are re-checked conditionally."""
    config = config or CrawlConfig()
    known = known or {}
    starts = [_checked(u) for u in start_urls]
    maps = [_checked(u) for u in sitemaps]
    if not starts and not maps:
        raise CrawlError("Nothing to crawl: give a start URL or a sitemap URL.")
    scope = Scope([urlsplit(u).netloc for u in starts + maps] + list(config.hosts), config.path_prefixes)
    result = CrawlResult()
    limits = httpx.Limits(max_connections=config.concurrency + 1)
    headers = {"User-Agent": config.user_agent}
    label = f"Crawling {urlsplit((starts + maps)[0]).netloc}"
    with (
        httpx.Client(headers=headers, timeout=config.timeout_s, limits=limits) as client,
        progress(label) as bar,
    ):
        fetcher = Fetcher(client, config, scope)
        for url in starts:
            _check_start(fetcher, url)
        listed = _sitemap_seeds(fetcher, maps, starts, config, result)
        if not starts and not listed:
            raise CrawlError(f"The sitemap {maps[0]} lists no pages we may crawl.")
        seeds = {s.url: s for s in listed}
        for url in starts:
            seeds.setdefault(url, Seed(url, 0, False))
        for url, state in known.items():  # pages indexed before: re-checked unless the sitemap dropped them
            if url in scope and (not state.from_sitemap or not result.sitemaps_read):
                seeds.setdefault(url, Seed(url, state.depth, False))
        _run(fetcher, list(seeds.values()), set(starts), known, config, result, bar)
    # Fetches finish in a different order each run, and chunks are embedded in batches in page order: a
    # chunk's vector moves in its last bits with its batch-mates (5 of the demo's 233 differed between
    # two crawls), and 2-3 of its 76 questions got other ranking candidates from one index to the next.
    # In URL order every vector is the same and 0-1 question differs (the vector graph's own variation).
    result.pages.sort(key=lambda page: page.url)
    if starts and not result.reached:
        raise CrawlError(f"Found no HTML pages at {starts[0]}.")
    log.info(
        "crawled %s: %d fetched, %d unchanged, %d gone, %d failed, %d skipped",
        label,
        len(result.pages),
        len(result.unchanged),
        len(result.gone),
        len(result.failed),
        result.skipped,
    )
    return result


def _checked(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CrawlError(f"Not an http(s) URL: {url!r}. Give the address of a help site.")
    return normalise(url)


def _check_start(fetcher: Fetcher, url: str) -> None:
    """Fail early, with the reason, when the start URL itself cannot be crawled."""
    allowed = fetcher.allowed(url)
    problem = fetcher.robots_problems.get(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
    if problem:
        raise CrawlError(f"Could not reach {url}: {problem}.")
    if not allowed:
        raise CrawlError(
            f"robots.txt of {urlsplit(url).netloc} does not allow {fetcher.config.user_agent} to fetch {url}."
        )


def _sitemap_seeds(
    fetcher: Fetcher, maps: list[str], starts: list[str], config: CrawlConfig, result: CrawlResult
) -> list[Seed]:
    """Pages listed in the given sitemaps and, for start URLs, in the sitemaps robots.txt declares."""
    queue = deque(maps)
    if config.use_sitemaps:
        for url in starts:
            queue.extend(normalise(s) for s in fetcher.robots(url).sitemaps)
    seen: set[str] = set()
    seeds: dict[str, Seed] = {}
    while queue and len(seen) < MAX_SITEMAPS:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        try:
            kind, entries = _read_sitemap(fetcher, url)
        except CrawlError as exc:
            if url in maps and not starts and len(maps) == 1:
                raise
            log.warning("%s", exc)
            result.sitemaps_read = False
            continue
        if kind == "sitemapindex":
            queue.extend(loc for loc, _ in entries)
            continue
        for loc, lastmod in entries:
            if loc in fetcher.scope and loc not in seeds:
                seeds[loc] = Seed(loc, 0, True, lastmod)
    return list(seeds.values())


def _read_sitemap(fetcher: Fetcher, url: str) -> tuple[str, list[tuple[str, str]]]:
    try:
        response = fetcher.request(url, {})
    except httpx.HTTPError as exc:
        raise CrawlError(f"Could not read the sitemap {url}: {exc or type(exc).__name__}.") from exc
    if response.status_code != 200:
        raise CrawlError(f"Could not read the sitemap {url}: HTTP {response.status_code}.")
    body = response.content
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = lxml.etree.fromstring(body, parser)
    except lxml.etree.XMLSyntaxError as exc:
        raise CrawlError(f"The sitemap {url} is not XML ({exc}); crawling without it.") from exc
    kind = lxml.etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise CrawlError(f"The sitemap {url} is neither a urlset nor a sitemap index; crawling without it.")
    entries = []
    for item in root:
        loc = item.findtext(f"{SITEMAP_NS}loc") or item.findtext("loc") or ""
        lastmod = item.findtext(f"{SITEMAP_NS}lastmod") or item.findtext("lastmod") or ""
        if loc.strip():
            entries.append((normalise(urljoin(url, loc.strip())), lastmod.strip()))
    return kind, entries


def _run(
    fetcher: Fetcher,
    seeds: list[Seed],
    starts: set[str],
    known: Mapping[str, PageState],
    config: CrawlConfig,
    result: CrawlResult,
    bar: Tracker,
) -> None:
    """Breadth-first over the frontier with ``concurrency`` fetches in flight."""
    frontier = deque(seeds)
    seen = {s.url for s in seeds}
    have: set[str] = set()  # final URLs of pages recorded, to drop redirect and canonical duplicates
    in_flight: dict[Future[Outcome], Seed] = {}
    with ThreadPoolExecutor(config.concurrency, thread_name_prefix="crawl") as pool:
        while frontier or in_flight:
            while (
                frontier
                and len(in_flight) < config.concurrency
                and result.reached + len(in_flight) < config.max_pages
            ):
                seed = frontier.popleft()
                in_flight[pool.submit(fetcher.fetch, seed, known.get(seed.url))] = seed
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                del in_flight[future]
                outcome = future.result()
                if outcome.seed.url in starts and outcome.kind not in ("page", "unchanged"):
                    verb = "Could not reach" if outcome.kind == "failed" else "Cannot crawl"
                    raise CrawlError(f"{verb} {outcome.seed.url}: {outcome.reason}.")
                _record(outcome, have, result)
                for link in outcome.links:
                    if link not in seen and link in fetcher.scope and outcome.seed.depth < config.max_depth:
                        seen.add(link)
                        frontier.append(Seed(link, outcome.seed.depth + 1, False))
                bar.advance(
                    status=f"{len(result.pages)} fetched, {len(result.unchanged)} unchanged, "
                    f"{result.skipped} skipped, {len(result.failed) + len(result.gone)} failed"
                )
    result.unvisited = [seed.url for seed in frontier]


def _record(outcome: Outcome, have: set[str], result: CrawlResult) -> None:
    url = outcome.seed.url
    if outcome.kind == "page":
        assert outcome.page is not None
        if outcome.page.url in have:
            result.skipped += 1
            return
        have.add(outcome.page.url)
        result.pages.append(outcome.page)
    elif outcome.kind == "unchanged":
        have.add(url)
        result.unchanged.append(url)
    elif outcome.kind == "gone":
        log.info("gone: %s (%s)", url, outcome.reason)
        result.gone.append(url)
    elif outcome.kind == "failed":
        log.warning("failed: %s (%s)", url, outcome.reason)
        result.failed.append(url)
    else:
        log.info("skipping %s: %s", url, outcome.reason)
        result.skipped += 1
