"""The Chroma index (real, persistent) and ingestion's promise to leave it intact on failure."""

from urllib.parse import urlsplit

import pytest

from core.errors import CrawlError
from core.settings import Settings
from rag.chunker import Chunk
from rag.index import HelpIndex
from rag.ingest import ingest_site
from supportloop.demo_site import load_questions, serve_demo_site


def chunk(id_: str, text: str, source: str) -> Chunk:
    return Chunk(id_, text, {"source": source, "title": "T", "heading": "H"})


def test_replace_site_updates_in_place_and_removes_only_that_sites_stale_chunks(tmp_path, embeddings):
    index = HelpIndex(tmp_path / "chroma", "test-index", embeddings)
    a, b = "http://127.0.0.1:1", "http://127.0.0.1:2"
    index.replace_site(
        [chunk("a1", "Refunds within 30 days", a + "/r"), chunk("a2", "Reset a password", a + "/p")], a
    )
    index.replace_site([chunk("b1", "Invite members to a team", b + "/i")], b)
    assert index.stats().chunks == 3
    removed = index.replace_site([chunk("a1", "Refunds within 14 days", a + "/r")], a)
    assert removed == 1
    assert index.stats().chunks == 2 and index.stats().pages == 2
    best = index.search("how long do I have to ask for a refund", 1)[0]
    assert (best.id, best.text, best.source) == ("a1", "Refunds within 14 days", a + "/r")
    assert 0.3 < best.score <= 1.0


def test_the_index_persists_across_clients(tmp_path, embeddings):
    HelpIndex(tmp_path / "chroma", "persisted", embeddings).replace_site(
        [chunk("x", "Two-factor codes", "http://127.0.0.1:3/x")], "http://127.0.0.1:3"
    )
    assert HelpIndex(tmp_path / "chroma", "persisted", embeddings).stats().chunks == 1


def test_a_failed_crawl_leaves_the_index_as_it_was(tmp_path, fresh_dir, embeddings):
    settings = Settings(data_dir=fresh_dir, crawl_timeout_s=2)
    index = HelpIndex(settings.chroma_dir, settings.collection_name, embeddings)
    before = index.stats()
    empty_site = tmp_path / "empty-site"
    empty_site.mkdir()
    (empty_site / "index.html").write_text("<html><body><nav>Home</nav></body></html>")
    with serve_demo_site(0, site_dir=empty_site) as url, pytest.raises(CrawlError, match="no text"):
        ingest_site(url + "/index.html", index, settings)
    with pytest.raises(CrawlError):
        ingest_site("http://127.0.0.1:9/", index, settings)
    assert index.stats() == before
    assert index.search("refund", 1)


def test_retrieval_finds_the_answering_page_for_the_bundled_questions(serving):
    questions = [q for q in load_questions() if q.page]
    cited = top1 = 0
    answerer = serving.answerer
    for q in questions:
        relevant = answerer.relevant(answerer.retrieve(q.question))
        pages = [urlsplit(source).path for source in answerer.citations(relevant)]
        cited += q.page in pages
        top1 += bool(pages) and pages[0] == q.page
    assert cited / len(questions) >= 0.9, f"{cited}/{len(questions)}"
    assert top1 / len(questions) >= 0.8, f"top-1 {top1}/{len(questions)}"
