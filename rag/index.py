"""The help-center index: chunks embedded with MiniLM in a persistent Chroma collection.

LangChain's Chroma wrapper embeds every text and query itself with our embedder, so Chroma's own
default embedding function (which would try to download a model) is never called. Similarity is cosine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from core.progress import progress
from rag.chunker import Chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk and its cosine similarity to the question (1 = identical)."""

    id: str
    text: str
    source: str
    title: str
    heading: str
    score: float


@dataclass(frozen=True)
class IndexStats:
    chunks: int
    pages: int


def site_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class HelpIndex:
    """Add, replace and search help-center chunks."""

    def __init__(self, directory: Path, collection: str, embeddings: Embeddings, batch_size: int = 32):
        directory.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.store = Chroma(
            collection_name=collection,
            embedding_function=embeddings,
            persist_directory=str(directory),
            client_settings=ChromaSettings(anonymized_telemetry=False, is_persistent=True),
            collection_configuration={"hnsw": {"space": "cosine"}},
        )

    def replace_site(self, chunks: Sequence[Chunk], site: str) -> int:
        """Upsert ``chunks`` and then drop the site's chunks that the new crawl no longer has.

        Old chunks are removed only after every new one is stored, so a failure midway leaves the
        previous pages searchable. Returns the number of stale chunks removed.
        """
        with progress("Embedding chunks", total=len(chunks)) as bar:
            for start in range(0, len(chunks), self.batch_size):
                batch = chunks[start : start + self.batch_size]
                self.store.add_texts(
                    [c.text for c in batch],
                    metadatas=[{**c.metadata, "site": site} for c in batch],
                    ids=[c.id for c in batch],
                )
                bar.advance(len(batch))
        existing = set(self.store.get(where={"site": site}, include=[])["ids"])
        stale = sorted(existing - {c.id for c in chunks})
        if stale:
            self.store.delete(ids=stale)
            log.info("removed %d chunks no longer on %s", len(stale), site)
        return len(stale)

    def search(self, query: str, k: int) -> list[Passage]:
        """The ``k`` chunks most similar to ``query``, best first."""
        results = self.store.similarity_search_with_score(query, k=k)
        return [
            Passage(
                id=str(doc.id),
                text=doc.page_content,
                source=doc.metadata.get("source", ""),
                title=doc.metadata.get("title", ""),
                heading=doc.metadata.get("heading", ""),
                score=1.0 - float(distance),
            )
            for doc, distance in results
        ]

    def stats(self) -> IndexStats:
        metadatas = self.store.get(include=["metadatas"])["metadatas"]
        return IndexStats(chunks=len(metadatas), pages=len({m.get("source") for m in metadatas}))
