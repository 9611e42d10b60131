"""Heading-aware chunking: split a page at its headings, then long sections into overlapping pieces.

Each chunk starts with its breadcrumb ("Page title > Section > Subsection") so that both the embedder
and the chat model see where a passage comes from. Chunk ids hash the URL, the heading path (and
which occurrence of it) and the position inside the section, so a re-crawl of an unchanged page
produces the same ids and updates chunks in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from rag.extract import ExtractedPage

HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, str | int | bool] = field(default_factory=dict)


def chunk_page(
    url: str,
    page: ExtractedPage,
    *,
    size: int = 500,
    overlap: int = 80,
    page_metadata: Mapping[str, str | int | bool] | None = None,
) -> list[Chunk]:
    """Split one extracted page into chunks carrying source URL, title, heading path and ``page_metadata``."""
    sections = MarkdownHeaderTextSplitter(HEADERS, strip_headers=True).split_text(page.markdown)
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=min(overlap, size // 2))
    chunks: list[Chunk] = []
    occurrences: dict[str, int] = {}
    for section in sections:
        path = [section.metadata[key] for _, key in HEADERS if key in section.metadata]
        if path and path[0] == page.title:
            path = path[1:]
        heading = " > ".join(path)
        breadcrumb = " > ".join([page.title, *path]) if page.title else heading
        occurrence = occurrences[heading] = occurrences.get(heading, -1) + 1  # repeated headings
        for position, piece in enumerate(splitter.split_text(section.page_content)):
            digest = hashlib.sha256(f"{url}\n{heading}\n{occurrence}\n{position}".encode()).hexdigest()[:24]
            chunks.append(
                Chunk(
                    id=digest,
                    text=f"{breadcrumb}\n{piece}" if breadcrumb else piece,
                    metadata={
                        **(page_metadata or {}),
                        "source": url,
                        "title": page.title,
                        "heading": heading,
                    },
                )
            )
    return chunks
