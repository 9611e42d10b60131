"""The help-center index: chunks with MiniLM vectors in Chroma, searched densely, by BM25, or both fused.

Chroma never embeds anything itself: the collection is opened without an embedding function and every
vector (documents and queries) comes from the embedder passed to ``HelpIndex``, so Chroma's default
model (which would try to download) is never touched. Similarity is cosine.

Chroma is embedded (a directory) by default, or a server (``chroma run``) when a URL is configured;
the on-disk format is the same. Writes happen in one place, ``apply``: new vectors are upserted first
and stale chunks deleted after, so a reader never sees a page vanish before its replacement is stored.
The BM25 side is an in-memory matrix rebuilt when the collection's generation stamp changes, which
every ``apply`` bumps, so other processes sharing the index notice updates (and rebuild in the
background, answering from the previous matrix meanwhile).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_core.embeddings import Embeddings

from core.errors import StorageError
from rag.bm25 import BM25
from rag.passage import Passage

if TYPE_CHECKING:  # the chunker (and BeautifulSoup with it) is for indexing, not for answering
    from rag.chunker import Chunk

log = logging.getLogger(__name__)
RetrievalMode = Literal["hybrid", "dense", "bm25"]
WRITE_BATCH = 5000  # Chroma's HTTP client accepts at most 5461 records per call
READ_PAGE = 10_000  # embedded Chroma fails a get() of more than 32766 records ("too many SQL variables")
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al.)
CANDIDATES = 20  # chunks per ranking, before fusion
PAGE_CANDIDATES = 50  # chunks per ranking that vote for their page
SEEDS_PREFIX = "seeds "  # collection metadata key prefix: where each site's crawl starts
# HNSW's search breadth. Chroma's default (100) missed 151 of the exact 50 nearest chunks over 206
# questions on the ~2,000-chunk Mastodon docs; 500 missed 6, at about the same ~3 ms a query. Chroma
# applies a changed value when it next opens the collection.
EF_SEARCH = 500


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage with its rank (0 = best) in dense search and in BM25 (None: not in that list)."""

    passage: Passage
    dense_rank: int | None
    lexical_rank: int | None


@dataclass(frozen=True)
class Lexicon:
    """The BM25 side of the index: the matrix, and each chunk's page (to rank pages, not just chunks)."""

    bm25: BM25
    source: dict[str, str]

    def pages_of(self, dense: Sequence[Passage], lexical: Sequence[str]) -> dict[str, str]:
        """The page of each candidate; dense passages carry their own (newer, if a rebuild is pending)."""
        return {chunk_id: self.source.get(chunk_id, "") for chunk_id in lexical} | {
            p.id: p.source for p in dense
        }


@dataclass(frozen=True)
class IndexStats:
    chunks: int
    pages: int


def site_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def chroma_client(data_dir: Path, url: str | None) -> Any:
    """A Chroma server client when ``url`` is given, else an embedded client storing in ``data_dir``."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(data_dir), settings=settings)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    try:
        return chromadb.HttpClient(
            host=parts.hostname or "",
            port=parts.port or (443 if https else 8000),
            ssl=https,
            settings=settings,
        )
    except Exception as exc:  # chromadb raises plain ValueError/ConnectionError subclasses here
        raise StorageError(f"Cannot reach the Chroma server at {url} ({exc}); is `chroma run` up?") from exc


class HelpIndex:
    """Store, update and search help-center chunks."""

    def __init__(self, client: Any, collection: str, embeddings: Embeddings, batch_size: int = 32) -> None:
        self.client = client
        self.name = collection
        self.embeddings = embeddings
        self.batch_size = batch_size
        self.collection = client.get_or_create_collection(
            collection,
            configuration={"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}},
            embedding_function=None,
        )
        if self.collection.configuration_json["hnsw"]["ef_search"] < EF_SEARCH:  # made before we raised it
            self.collection.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
        self._lexicon: Lexicon | None = None
        self._lexicon_generation: object = None
        self._lexicon_rebuilding = False
        self._lexicon_lock = threading.Lock()

    # -- writing -----------------------------------------------------------------------------------

    def embed(
        self, chunks: Sequence[Chunk], on_batch: Callable[[int], object] | None = None
    ) -> list[list[float]]:
        """Vectors for ``chunks`` in batches; ``on_batch(n)`` reports progress."""
        # Batches of similar length waste less work on padding (about 2x fewer tokens on real pages).
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].text))
        vectors: list[list[float]] = [[] for _ in chunks]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, vector in zip(
                batch, self.embeddings.embed_documents([chunks[i].text for i in batch]), strict=True
            ):
                vectors[i] = vector
            if on_batch:
                on_batch(len(batch))
        return vectors

    def apply(
        self,
        site: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        keep: Iterable[str] = (),
        touch: Mapping[str, Mapping[str, str | int | bool]] | None = None,
        seeds: Mapping[str, list[str]] | None = None,
    ) -> list[str]:
        """Make the site's index hold ``chunks`` plus the kept pages' chunks; return the removed pages.

        ``keep`` names pages whose stored chunks stay as they are; ``touch`` updates the stored
        page-level metadata (ETag, Last-Modified) of unchanged pages. Everything else the site had is
        deleted, after the new chunks are in. ``seeds`` (start URLs and sitemaps of the crawl) are kept
        with the collection so a later re-index can start from the same place.
        """
        for start in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[start : start + WRITE_BATCH]
            self.collection.upsert(
                ids=[c.id for c in batch],
                embeddings=[list(v) for v in vectors[start : start + WRITE_BATCH]],
                documents=[c.text for c in batch],
                metadatas=[{**c.metadata, "site": site} for c in batch],
            )
        stored = self._get_all(where={"site": site}, include=["metadatas"])
        new_ids = {c.id for c in chunks}
        renewed = {c.metadata["source"] for c in chunks}
        kept = set(keep) - renewed
        touch = touch or {}
        stale, touched_ids, touched_meta = [], [], []
        for chunk_id, meta in zip(stored["ids"], stored["metadatas"], strict=True):
            source = meta.get("source", "")
            if source in kept:
                if source in touch:
                    touched_ids.append(chunk_id)
                    touched_meta.append({**meta, **touch[source]})
            elif chunk_id not in new_ids:
                stale.append((chunk_id, source))
        if touched_ids:
            self.collection.update(ids=touched_ids, metadatas=touched_meta)
        for start in range(0, len(stale), WRITE_BATCH):
            self.collection.delete(ids=[chunk_id for chunk_id, _ in stale[start : start + WRITE_BATCH]])
        removed = sorted({source for _, source in stale} - renewed)
        metadata = self._metadata() | {"generation": time.time_ns()}
        if seeds is not None:
            metadata[SEEDS_PREFIX + site] = json.dumps(dict(seeds))
        self.collection.modify(metadata=metadata)
        with self._lexicon_lock:
            self._lexicon = None  # our own write: the next search rebuilds before answering
        return removed

    # -- reading -----------------------------------------------------------------------------------

    def crawl_seeds(self) -> dict[str, dict[str, list[str]]]:
        """Per indexed site, the start URLs and sitemaps its last crawl began from."""
        return {
            key.removeprefix(SEEDS_PREFIX): json.loads(value)
            for key, value in self._metadata().items()
            if key.startswith(SEEDS_PREFIX)
        }

    def _metadata(self) -> dict[str, Any]:
        """The collection's metadata as stored now (another process may have changed it)."""
        return dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})

    def pages(self, site: str) -> dict[str, dict[str, Any]]:
        """The stored metadata of each of the site's pages (one chunk's worth), by URL."""
        stored = self._get_all(where={"site": site}, include=["metadatas"])
        return {meta["source"]: meta for meta in stored["metadatas"] if meta.get("source")}

    def search(self, query: str, k: int, mode: RetrievalMode = "hybrid") -> list[Passage]:
        """The ``k`` best passages for ``query``, best first; ``score`` is always the cosine similarity.

        Hybrid search scores a chunk by reciprocal rank fusion twice over: once for the chunk itself
        (its dense and BM25 ranks) and once for its page (the page's best rank in each list). The page
        term settles ties the chunk ranks leave: when dense search likes one section of the right page
        and BM25 another, neither chunk wins alone, though both lists agree on the page.
        """
        return [c.passage for c in self.candidates(query, k, mode)]

    def candidates(self, query: str, k: int, mode: RetrievalMode = "hybrid") -> list[Candidate]:
        """``search``'s passages with the rank each got from dense search and from BM25 (for rerankers)."""
        vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
        if mode == "dense":
            return [Candidate(p, i, None) for i, p in enumerate(self._dense(vector, k))]
        dense = self._dense(vector, max(k, PAGE_CANDIDATES)) if mode == "hybrid" else []
        lexicon = self.lexical()
        lexical = [chunk_id for chunk_id, _ in lexicon.bm25.search(query, max(k, PAGE_CANDIDATES))]
        if mode == "bm25":
            ranked = lexical[:k]
        else:
            ranked = fuse([p.id for p in dense], lexical, lexicon.pages_of(dense, lexical))[:k]
        known = {p.id: p for p in dense}
        missing = [chunk_id for chunk_id in ranked if chunk_id not in known]
        if missing:
            known.update({p.id: p for p in self._fetch(missing, vector)})
        dense_rank = {p.id: i for i, p in enumerate(dense)}
        lexical_rank = {chunk_id: i for i, chunk_id in enumerate(lexical)}
        return [
            Candidate(known[chunk_id], dense_rank.get(chunk_id), lexical_rank.get(chunk_id))
            for chunk_id in ranked
            if chunk_id in known
        ]

    def lexical(self) -> Lexicon:
        """The BM25 matrix of the collection, with each chunk's page.

        The first call builds it. After a write (the generation stamp changed) the previous matrix
        keeps answering while a thread builds the new one: at 100k chunks a rebuild takes seconds,
        and no question should wait for it. This process's own writes rebuild at once instead.
        """
        stamp = self._metadata().get("generation")
        with self._lexicon_lock:
            current = self._lexicon
            if current is not None and (stamp == self._lexicon_generation or self._lexicon_rebuilding):
                return current
            if current is not None:
                self._lexicon_rebuilding = True
                threading.Thread(target=self._build_lexicon, args=(stamp,), name="bm25", daemon=True).start()
                return current
        return self._build_lexicon(stamp)

    def _build_lexicon(self, stamp: object) -> Lexicon:
        started = time.perf_counter()
        try:
            stored = self._get_all(include=["documents", "metadatas"])
            lexicon = Lexicon(
                BM25(stored["ids"], stored["documents"]),
                {
                    chunk_id: meta.get("source", "")
                    for chunk_id, meta in zip(stored["ids"], stored["metadatas"], strict=True)
                },
            )
            with self._lexicon_lock:
                self._lexicon, self._lexicon_generation = lexicon, stamp
        finally:
            self._lexicon_rebuilding = False
        log.info("built BM25 over %d chunks in %.2f s", len(lexicon.bm25), time.perf_counter() - started)
        return lexicon

    def passages(self, ids: Sequence[str]) -> list[Passage]:
        """The indexed chunks with these ids, in that order (ids no longer indexed are left out)."""
        if not ids:
            return []
        found = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            chunk_id: _passage(chunk_id, text, meta, 1.0)
            for chunk_id, text, meta in zip(found["ids"], found["documents"], found["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def stats(self) -> IndexStats:
        metadatas = self._get_all(include=["metadatas"])["metadatas"]
        return IndexStats(chunks=len(metadatas), pages=len({m.get("source") for m in metadatas}))

    def _get_all(self, **query: Any) -> dict[str, list[Any]]:
        """``collection.get`` in pages, so a collection of any size can be read."""
        merged: dict[str, list[Any]] = {"ids": [], "metadatas": [], "documents": []}
        offset = 0
        while True:
            page = self.collection.get(limit=READ_PAGE, offset=offset, **query)
            for key in merged:
                merged[key].extend(page.get(key) or [])
            if len(page["ids"]) < READ_PAGE:
                return merged
            offset += READ_PAGE

    def _dense(self, vector: np.ndarray, k: int) -> list[Passage]:
        found = self.collection.query(
            query_embeddings=[vector.tolist()],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        return [
            _passage(chunk_id, text, meta, 1.0 - float(distance))
            for chunk_id, text, meta, distance in zip(
                found["ids"][0],
                found["documents"][0],
                found["metadatas"][0],
                found["distances"][0],
                strict=True,
            )
        ]

    def _fetch(self, ids: list[str], vector: np.ndarray) -> list[Passage]:
        found = self.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        return [
            _passage(chunk_id, text, meta, float(np.dot(np.asarray(emb, dtype=np.float32), vector)))
            for chunk_id, text, meta, emb in zip(
                found["ids"], found["documents"], found["metadatas"], found["embeddings"], strict=True
            )
        ]


def rrf_scores(
    rankings: Sequence[Sequence[str]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Reciprocal rank fusion: each list adds weight/(k + rank) to its items (weight 1 unless given)."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def fuse(dense: Sequence[str], lexical: Sequence[str], page_of: Mapping[str, str]) -> list[str]:
    """Chunk ids, best first, by their own fused rank plus their page's fused rank.

    ``dense`` and ``lexical`` are chunk ids, best first; the first ``CANDIDATES`` of each compete, and
    all of them vote for their pages (a page's rank in a list is that of its best chunk there).
    """
    chunks = rrf_scores([dense[:CANDIDATES], lexical[:CANDIDATES]])
    pages = rrf_scores([list(dict.fromkeys(page_of[c] for c in ranking)) for ranking in (dense, lexical)])
    return sorted(chunks, key=lambda c: -(chunks[c] + pages[page_of[c]]))


def _passage(chunk_id: str, text: str, meta: Mapping[str, Any], score: float) -> Passage:
    return Passage(
        id=chunk_id,
        text=text,
        source=meta.get("source", ""),
        title=meta.get("title", ""),
        heading=meta.get("heading", ""),
        score=score,
    )
