"""Crawl a site, extract and chunk every page, and index the chunks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.errors import CrawlError
from core.settings import Settings
from rag.chunker import chunk_page
from rag.crawler import crawl
from rag.extract import extract
from rag.index import HelpIndex, site_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    pages: int
    skipped: int
    chunks: int
    removed: int


def ingest_site(url: str, index: HelpIndex, settings: Settings) -> IngestReport:
    """Crawl ``url`` and replace that site's chunks in ``index``; the index is untouched on error."""
    result = crawl(
        url,
        max_pages=settings.crawl_max_pages,
        timeout_s=settings.crawl_timeout_s,
        max_page_bytes=settings.crawl_max_page_bytes,
        user_agent=settings.user_agent,
    )
    chunks = []
    empty = 0
    for page in result.pages:
        extracted = extract(page.html)
        if not extracted.markdown:
            empty += 1
            continue
        chunks.extend(
            chunk_page(page.url, extracted, size=settings.chunk_size, overlap=settings.chunk_overlap)
        )
    if not chunks:
        raise CrawlError(f"The pages at {url} hold no text to index ({len(result.pages)} pages fetched).")
    removed = index.replace_site(chunks, site_of(result.pages[0].url))
    return IngestReport(len(result.pages) - empty, result.skipped + empty, len(chunks), removed)
