"""Crawl a site, extract and chunk what changed, embed it, and update the index in one step at the end.

Re-crawls are incremental: pages the index already holds are fetched conditionally (ETag,
Last-Modified), and a page whose extracted text hashes the same as before is not re-embedded. Pages
that are gone (404/410, or dropped from the sitemap and no longer linked) leave the index; pages that
failed this time (5xx, timeouts) or were not reached because of the page budget keep their chunks.

Nothing is written until the crawl and the embedding are complete, so a crawl that fails or is
interrupted halfway leaves the index exactly as it was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import CrawlError
from core.progress import progress
from core.settings import Settings
from rag.chunker import Chunk, chunk_page
from rag.crawler import CrawlResult, crawl
from rag.extract import extract
from rag.fetch import CrawlConfig, PageState
from rag.index import HelpIndex, site_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    pages: int  # pages the index now holds for the site
    changed: int  # new or changed pages, (re-)embedded
    unchanged: int  # pages kept as they were (304, or same text)
    skipped: int
    failed: int  # fetch errors; a page known before keeps its chunks
    chunks: int  # chunks embedded
    removed: int  # pages removed from the index


def ingest_site(
    start_urls: Sequence[str], index: HelpIndex, settings: Settings, *, sitemaps: Sequence[str] = ()
) -> IngestReport:
    """Crawl and bring the site's part of ``index`` up to date; the index is untouched on error."""
    first = next(iter([*start_urls, *sitemaps]), "")
    site = site_of(first)
    known = {url: _state(meta) for url, meta in index.pages(site).items()}
    result = crawl(start_urls, CrawlConfig.from_settings(settings), sitemaps=sitemaps, known=known)
    chunks, same, empty = _changed_chunks(result, known, settings)
    if not chunks and not same and not result.unchanged:
        raise CrawlError(f"The pages at {first} hold no text to index ({len(result.pages)} pages fetched).")
    with progress("Embedding chunks", total=len(chunks)) as bar:
        vectors = index.embed(chunks, bar.advance)
    keep = (
        set(result.unchanged)
        | set(same)
        | (set(result.failed) & set(known))
        | (set(result.unvisited) & set(known))
    )
    seeds = {"start_urls": list(start_urls), "sitemaps": list(sitemaps)}
    removed = index.apply(site, chunks, vectors, keep=keep, touch=same, seeds=seeds)
    changed = {str(c.metadata["source"]) for c in chunks}
    pages = len(keep | changed)
    log.info("indexed %s: %d pages, %d changed, %d removed", site, pages, len(changed), len(removed))
    return IngestReport(
        pages=pages,
        changed=len(changed),
        unchanged=len(result.unchanged) + len(same),
        skipped=result.skipped + empty,
        failed=len(result.failed),
        chunks=len(chunks),
        removed=len(removed),
    )


def _state(meta: dict) -> PageState:
    return PageState(
        etag=str(meta.get("etag", "")),
        last_modified=str(meta.get("last_modified", "")),
        content_hash=str(meta.get("content_hash", "")),
        depth=int(meta.get("depth", 0)),
        from_sitemap=bool(meta.get("from_sitemap", False)),
    )


def _changed_chunks(
    result: CrawlResult, known: dict[str, PageState], settings: Settings
) -> tuple[list[Chunk], dict[str, dict[str, str | int | bool]], int]:
    """Chunks of new or changed pages; page metadata of pages whose text did not change; empty pages."""
    chunks: list[Chunk] = []
    same: dict[str, dict[str, str | int | bool]] = {}
    empty = 0
    with progress("Extracting pages", total=len(result.pages)) as bar:
        for page in result.pages:
            extracted = extract(page.html)
            bar.advance()
            if not extracted.markdown:
                empty += 1
                continue
            digest = hashlib.sha256(extracted.markdown.encode()).hexdigest()
            page_metadata: dict[str, str | int | bool] = {
                "lastmod": page.lastmod,
                "etag": page.etag,
                "last_modified": page.last_modified,
                "content_hash": digest,
                "depth": page.depth,
                "from_sitemap": page.from_sitemap,
            }
            if page.url in known and known[page.url].content_hash == digest:
                same[page.url] = page_metadata
                continue
            chunks.extend(
                chunk_page(
                    page.url,
                    extracted,
                    size=settings.chunk_size,
                    overlap=settings.chunk_overlap,
                    page_metadata=page_metadata,
                )
            )
    return chunks, same, empty
