"""Long answers are split within platform limits without breaking Markdown code blocks."""

import re

import pytest

from bots.formatting import split_text


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
