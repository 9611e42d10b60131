from rag.chunker import chunk_page
from rag.extract import ExtractedPage, extract
from supportloop.demo_site import SITE_DIR

URL = "http://127.0.0.1:8000/billing/plans.html"


def test_chunks_carry_source_title_heading_and_a_breadcrumb():
    page = extract((SITE_DIR / "billing/plans.html").read_text())
    chunks = chunk_page(URL, page, size=500, overlap=80)
    assert len(chunks) > 3
    assert all(c.metadata["source"] == URL and c.metadata["title"] == page.title for c in chunks)
    headed = [c for c in chunks if c.metadata["heading"] == "Compare plans"]
    assert headed and headed[0].text.startswith(f"{page.title} > Compare plans\n")
    assert all(len(c.text) <= 500 + len(page.title) + len(c.metadata["heading"]) + 4 for c in chunks)


def test_ids_are_stable_and_unique_even_for_repeated_headings():
    page = ExtractedPage(
        "Guide", "# Guide\n\n## Notes\n\nFirst notes.\n\n## Steps\n\nDo it.\n\n## Notes\n\nSecond notes."
    )
    first = chunk_page(URL, page)
    assert [c.id for c in first] == [c.id for c in chunk_page(URL, page)]
    assert len({c.id for c in first}) == len(first) == 3
    assert {c.id for c in chunk_page(URL + "?other", page)}.isdisjoint(c.id for c in first)
