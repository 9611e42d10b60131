"""Answers as chat shows them: steps on their own lines, sources once, long text split well within
platform limits without breaking Markdown quotes or code blocks."""

import re

import pytest

from bots.formatting import for_chat, split_text
from bots.replies import Reply, Source


def test_short_text_is_one_part():
    assert split_text("Hello", 2000) == ["Hello"]


@pytest.mark.parametrize("limit", [100, 2000, 3000])
def test_parts_fit_keep_fences_balanced_and_lose_nothing(limit):
    code = "\n".join(f"print({i})  # step {i} of the migration" for i in range(300))
    text = "Run this:\n\n```python\n" + code + "\n```\n\nThen " + "check the result again. " * 300
    parts = split_text(text, limit)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= limit
        assert part.count("```") % 2 == 0, part
    reopened = [p for p in parts if p.startswith("```python")]
    assert reopened  # a code block continued in the next part keeps its language
    joined = "\n".join(parts)
    assert re.findall(r"print\((\d+)\)", joined) == [str(i) for i in range(300)]
    assert " ".join(joined.split()).count("check the result again.") == 300  # cuts fall between words


def test_a_line_without_spaces_is_cut_hard():
    parts = split_text("x" * 250, 100)
    assert len(parts) == 3 and all(len(p) <= 100 for p in parts)
    assert "".join(parts) == "x" * 250


# --------------------------------------------------------------------- answers as chat shows them

RESET = "https://help.example.com/reset"
OTHER = "https://help.example.com/other"
STEP = "Open the settings page, choose the option you want to change, and save it. "


def long_answer(steps: int = 14) -> Reply:
    """An extractive answer as the answerer writes it: numbered steps run together in one quoted line,
    each quote followed by its page, and the same pages again as the reply's sources."""
    run = " ".join(f"{n}. {STEP * 3}" for n in range(1, steps + 1))
    text = (
        f"From the help pages:\n> To reset your password: {run}\n— Reset your password ({RESET})\n\n"
        f"> Passwords expire after 90 days.\n— Password policy ({OTHER})"
    )
    sources = (Source("Reset your password", RESET), Source("Password policy", OTHER))
    return Reply(text, "answer", 7, sources)


def test_numbered_steps_get_lines_of_their_own_and_stay_quoted():
    text, _ = for_chat(Reply("> Do this: 1. Open the app. 2. Tap Settings 3. Tap Reset.", "answer"))
    assert text.split("\n") == ["> Do this:", "> 1. Open the app.", "> 2. Tap Settings", "> 3. Tap Reset."]
    text, _ = for_chat(Reply("1. Open the app. 2. Tap Settings.", "answer"))
    assert text.split("\n") == ["1. Open the app.", "2. Tap Settings."]


@pytest.mark.parametrize(
    "line",
    [
        "Upgrade to version 2. Then restart.",  # a number that belongs to the word before it
        "See step 1. Then step 2. Done.",
        "It costs 3. That is all.",  # a lone number is no run of steps
        "Set the ratio to 2.5 and 3.5 for best results.",
    ],
)
def test_numbers_that_are_not_a_run_of_steps_stay_in_their_line(line):
    assert for_chat(Reply(line, "answer"))[0] == line


def test_a_source_appears_once():
    text, sources = for_chat(long_answer())
    assert RESET not in text and OTHER not in text and "—" not in text  # listed under Sources instead
    assert [s.url for s in sources] == [RESET, OTHER]
    linked = Reply(f"See [Reset your password]({RESET}) for the steps.", "answer", 1, long_answer().sources)
    text, sources = for_chat(linked)
    assert text == linked.text and [s.url for s in sources] == [OTHER]  # linked inline: not listed again
    unlisted = Reply(f"> Quote.\n— Somewhere else ({OTHER})", "answer", 1, (Source("Reset", RESET),))
    assert for_chat(unlisted)[0] == unlisted.text  # a page not under Sources keeps its line


@pytest.mark.parametrize("limit", [2000, 3000])
def test_a_long_multi_step_answer_splits_between_steps_with_no_tiny_part(limit):
    text, _ = for_chat(long_answer(steps=30))
    parts = split_text(text, limit)
    assert len(parts) > 1
    assert all(limit // 2 <= len(part) <= limit for part in parts[:-1])
    assert parts[0].startswith("From the help pages:\n> To reset your password:\n> 1. ")
    for part in parts[1:]:
        assert re.match(r"> \d+\. ", part) or part.startswith("> Passwords"), part[:40]
    numbers = [int(n) for n in re.findall(r"^> (\d+)\. ", "\n".join(parts), re.MULTILINE)]
    assert numbers == list(range(1, 31))


def test_a_short_heading_is_never_a_part_of_its_own():
    """The first Discord message once held only "From the help pages:": the long line after it
    did not fit beside it, and nothing cut that line to fill the part."""
    text = "From the help pages:\n> " + "A sentence about the answer, read from the page. " * 60
    parts = split_text(text, 2000)
    assert len(parts[0]) > 1000 and parts[0].startswith("From the help pages:\n> A sentence")
    assert all(part.startswith("> ") for part in parts[1:])  # a quote cut in two stays a quote
    assert all(part.rstrip().endswith(".") for part in parts)  # cut after a sentence
