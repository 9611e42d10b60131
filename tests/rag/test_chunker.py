from pathlib import Path

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


def test_a_name_in_code_keeps_its_backticks_in_the_heading_but_not_in_the_embedded_breadcrumb():
    markdown = "## Media CLI\n### `tootctl media remove`\nRemoves cached media."
    page = ExtractedPage("Using the admin CLI", markdown)
    (chunk,) = [c for c in chunk_page(URL, page) if "Removes" in c.text]
    assert chunk.metadata["heading"] == "Media CLI > `tootctl media remove`"
    assert chunk.text == "Using the admin CLI > Media CLI > tootctl media remove\nRemoves cached media."


def test_ids_are_stable_and_unique_even_for_repeated_headings():
    page = ExtractedPage(
        "Guide", "# Guide\n\n## Notes\n\nFirst notes.\n\n## Steps\n\nDo it.\n\n## Notes\n\nSecond notes."
    )
    first = chunk_page(URL, page)
    assert [c.id for c in first] == [c.id for c in chunk_page(URL, page)]
    assert len({c.id for c in first}) == len(first) == 3
    assert {c.id for c in chunk_page(URL + "?other", page)}.isdisjoint(c.id for c in first)


PROSE = (
    "Backups run every night and are kept for thirty days. You can also start one yourself before a big "
    "change, for example before you import a large file or change who can see a shared folder. "
    "A backup covers files, comments and version history, but not the trash."
)


def _steps(count: int, words: str = "and wait until the screen says it is done") -> list[str]:
    return [f"{n}. Select the button labelled Step {n} {words}." for n in range(1, count + 1)]


def _chunks(markdown: str) -> list[str]:
    return [c.text for c in chunk_page(URL, ExtractedPage("Backups", markdown), size=500, overlap=80)]


def test_a_list_of_eight_steps_stays_in_one_chunk_with_its_introduction():
    steps = _steps(8, "now")
    assert len("\n".join(["To start a backup:", *steps])) <= 500
    chunks = _chunks(
        f"# Backups\n\n## Start a backup\n\n{PROSE}\n\nTo start a backup:\n\n" + "\n".join(steps)
    )
    holding = [c for c in chunks if "1. Select" in c]
    assert len(holding) == 1
    assert "Backups > Start a backup\n" in holding[0]
    assert "To start a backup:\n" + "\n".join(steps) in holding[0]
    assert all(step in holding[0] for step in steps) and not any(
        "Step 8" in c for c in chunks if c not in holding
    )


def test_a_short_section_with_a_list_is_still_one_chunk():
    steps = _steps(3, "now")
    chunks = _chunks("## Start a backup\n\nBackups are quick.\n\nTo start a backup:\n\n" + "\n".join(steps))
    assert chunks == ["Backups > Start a backup\nBackups are quick.\nTo start a backup:\n" + "\n".join(steps)]


def test_a_list_that_fits_alone_is_not_split_to_take_a_long_introduction():
    intro = "Rewinding returns a folder to how it looked at a moment you choose. " * 5
    steps = _steps(6, "and wait")
    assert len("\n".join(steps)) <= 500 < len(intro) + len("\n".join(steps))
    chunks = _chunks(f"## Rewind a folder\n\n{intro}\n\n" + "\n".join(steps))
    holding = [c for c in chunks if "Select the button" in c]
    assert len(holding) == 1
    assert "\n".join(steps) in holding[0]


def test_a_long_list_is_split_between_steps_with_the_breadcrumb_repeated():
    steps = _steps(14)
    assert len("\n".join(steps)) > 2 * 500
    chunks = _chunks(
        f"## Start a backup\n\n{PROSE}\n\nTo start a backup:\n\n" + "\n".join(steps) + "\n\nThat is all."
    )
    holding = [c for c in chunks if "Select the button" in c]
    assert len(holding) >= 3
    assert all(c.startswith("Backups > Start a backup\n") for c in chunks)
    assert "To start a backup:\n1. Select" in holding[0]
    for step in steps:  # each step whole, in exactly one chunk
        assert sum(step in c for c in holding) == 1
    found = [line for c in holding for line in c.splitlines() if line[:1].isdigit()]
    assert found == steps  # in order, and no line is a piece of a step
    assert all(len(c) <= 500 + len("Backups > Start a backup\n") for c in chunks)


def test_a_step_keeps_its_nested_items_and_code_block():
    step = "2. Copy the key:\n```bash\nexport KEY=abc\n\nrun --now\n```\n  - keep it secret"
    items = ["1. Open the settings page and find the section about access keys for the server."] * 5
    chunks = _chunks("## Keys\n\n" + "\n".join([*items, step, "3. Save."]))
    assert sum(step in c for c in chunks) == 1


def test_extracted_steps_stay_together():
    page = extract((Path(__file__).resolve().parent.parent / "data" / "pages" / "zendesk.html").read_text())
    chunks = [c.text for c in chunk_page(URL, page, size=500, overlap=80)]
    holding = [c for c in chunks if "1. Go to the sign-in page" in c]
    assert len(holding) == 1
    assert "To reset your password:\n1. Go to" in holding[0] and "4. Type your new password" in holding[0]


def test_an_item_longer_than_a_chunk_is_split_at_its_own_lines_and_long_code_by_size():
    nested = [f"  - route number {n} [index, show, update, destroy]" for n in range(40)]
    code = "```text\n" + "\n".join(f"line {n} of a long listing" for n in range(60)) + "\n```"
    chunks = _chunks("## Routes\n\n" + "\n".join(["- /api/v1", *nested, "- /api/v2", code]))
    assert all(len(c) <= 500 + len("Backups > Routes\n") for c in chunks)
    text = "\n".join(chunks)
    assert all(line.strip() in text for line in nested)
    assert "line 59 of a long listing" in text


def test_numbered_steps_up_to_twice_a_chunk_stay_in_one_chunk_with_their_introduction():
    listing = "\n".join(["To start a backup:", *_steps(9)])
    assert 500 < len(listing) <= 2 * 500
    chunks = _chunks(f"## Start a backup\n\n{PROSE}\n\n{listing}\n\nThat is all.")
    assert sum(listing in c for c in chunks) == 1
    bullets = [step.replace(f"{n}. ", "- ", 1) for n, step in enumerate(_steps(9), 1)]
    assert len(_chunks("## Start a backup\n\n" + "\n".join(bullets))) > 1  # other lists keep to the size
