"""Knowledge gaps with the real embedder: declined and 👎 questions grouped by meaning, largest first,
each with the closest indexed page; in the admin service and in `supportloop gaps`."""

from __future__ import annotations

import pytest
import typer
from helpers import record_answer
from typer.testing import CliRunner

from rag.chunker import Chunk
from supportloop.commands import console as console_commands
from supportloop.commands.console import gaps as gaps_command

pytestmark = pytest.mark.slow  # loads the embedder (MiniLM): about 5 s per test on a busy machine

PAGES = {
    "http://help.test/billing/invoices": (
        "Invoices",
        "Download each invoice as a PDF from Billing > Invoices.",
    ),
    "http://help.test/billing/refunds": ("Refunds", "Annual plans are refunded in full within 30 days."),
    "http://help.test/account/delete": (
        "Delete your account",
        "Delete your account under Settings > Account.",
    ),
}
DARK = ["How do I turn on dark mode?", "Is there a dark theme?", "Can I make the app dark at night?"]
PDF = ["How do I download my invoice as a PDF?", "Where can I get a PDF copy of my invoices?"]
ALONE = "Do you have an office in Berlin?"


def index_pages(loop) -> None:
    chunks = [
        Chunk(f"{url}#0", text, {"source": url, "title": title, "heading": title})
        for url, (title, text) in PAGES.items()
    ]
    loop.index.apply("help.test", chunks, loop.index.embed(chunks))


def unhelped(loop) -> None:
    for question in [*DARK, ALONE]:
        record_answer(
            loop.records, question=question, answer="I can't find that in the help pages.", declined=True
        )
    for number, question in enumerate(PDF):
        answer = record_answer(loop.records, question=question, answer="Refunds take 30 days.")
        loop.records.vote(answer, f"user{number}", -1, reason=f"wrong page, mail me at a{number}@example.com")
    liked = record_answer(loop.records, question="How do refunds work?")
    loop.records.vote(liked, "user9", 1)  # a 👍 answer is no gap


def test_gaps_group_questions_by_meaning_with_the_closest_page(deployment):
    index_pages(deployment)
    unhelped(deployment)
    found = deployment.admin.gaps()
    assert [(g.count, g.declined) for g in found] == [(3, 3), (2, 0), (1, 1)]
    dark, pdf, alone = found
    assert set(dark.examples) == set(DARK)
    assert set(pdf.examples) == set(PDF) and pdf.closest_page is not None
    assert pdf.closest_page.url == "http://help.test/billing/invoices"
    assert pdf.reasons == ["wrong page, mail me at [email]"]  # redacted, and the same reason once
    assert alone.examples == [ALONE]
    # The home page leads with the top gap and the last 👎 reason.
    downvote = deployment.admin.last_downvote()
    assert downvote is not None and downvote.question == PDF[-1] and downvote.reason == pdf.reasons[0]
    # Asked again with nothing new, the report is the same; a new unhelped question joins its gap.
    assert deployment.admin.gaps() == found
    record_answer(deployment.records, question="Where is the dark mode setting?", declined=True)
    assert [g.count for g in deployment.admin.gaps()] == [4, 2, 1]


def test_a_lower_distance_splits_gaps(deployment):
    unhelped(deployment)
    assert len(deployment.admin.gaps(distance=0.05)) == len(DARK) + len(PDF) + 1


def test_gaps_command_lists_the_gaps(deployment, monkeypatch):
    index_pages(deployment)
    unhelped(deployment)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(deployment.settings.data_dir))
    app = typer.Typer()
    app.command()(gaps_command)
    app.command("unused")(lambda: None)  # two commands, so `gaps` is a subcommand as in the real CLI
    monkeypatch.setattr(console_commands.out, "width", 250)
    result = CliRunner().invoke(app, ["gaps", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "3 (3 declined)" in result.output and "http://help.test/billing/invoices" in result.output
    assert ALONE not in result.output  # the third gap is past --limit
    monkeypatch.setattr(console_commands.out, "width", 60)
    narrow = CliRunner().invoke(app, ["gaps", "--limit", "2"]).output
    assert "…" not in narrow  # the page's address is folded onto more lines, not cut


def test_gaps_command_without_gaps_says_so(deployment, monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(deployment.settings.data_dir))
    app = typer.Typer()
    app.command()(gaps_command)
    app.command("unused")(lambda: None)
    result = CliRunner().invoke(app, ["gaps"])
    assert result.exit_code == 0 and "No knowledge gaps" in result.output
