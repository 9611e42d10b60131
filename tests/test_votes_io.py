"""``supportloop votes import`` and ``export``: checked whole before anything is stored, stored like chat
votes (hashed users, one vote per user and answer, redacted reasons), written back out atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import one_line_error, record_answer, run_cli

from core.database import open_database
from core.records import Records, hash_user
from supportloop.cli import main

KEY = "import-test-key"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory holding two answers (ids 1 and 2) and one Slack user's 👍 on the first."""
    data = tmp_path / "data"
    db = open_database(f"sqlite:///{data / 'db.sqlite'}")
    records = Records(db)
    first, second = record_answer(records, "How do refunds work?"), record_answer(records, "Dark mode?")
    assert (first, second) == (1, 2)
    records.vote(first, hash_user("slack", "U1", KEY), 1)
    db.close()
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(data))
    monkeypatch.setenv("SUPPORTLOOP_USER_HASH_KEY", KEY)
    return data


def feedback(data_dir: Path) -> list[tuple]:
    db = open_database(f"sqlite:///{data_dir / 'db.sqlite'}")
    try:
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT answer_id, user_hash, vote, reason, source, retracted FROM feedback ORDER BY id"
            )
            return [tuple(row) for row in rows]
    finally:
        db.close()


def write_lines(path: Path, *lines: object) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_import_then_export_round_trip(data_dir, tmp_path):
    source = write_lines(
        tmp_path / "votes.jsonl",
        {"answer_id": 1, "user": "agent-7", "vote": -1, "reason": "old, ask jo@example.com, 0151 234567"},
        "",
        {"answer_id": 2, "user": "agent-7", "vote": 1},
        {"answer_id": 2, "user": "agent-9", "vote": -1, "reason": None},
    )
    result = run_cli("votes", "import", str(source))
    assert result.returncode == 0, result.stderr
    assert "Imported 3 votes" in result.stdout and "3 new" in result.stdout
    reason = "old, ask [email], [phone]"  # redacted as questions are, before it is stored
    assert [row[3] for row in feedback(data_dir)] == [None, reason, None, None]

    target = tmp_path / "out" / "export.jsonl"
    result = run_cli("votes", "export", str(target))
    assert result.returncode == 0, result.stderr
    exported = [json.loads(line) for line in target.read_text().splitlines()]
    agent = {name: hash_user("import", name, KEY) for name in ("agent-7", "agent-9")}
    assert exported == [
        {"answer_id": 1, "user": hash_user("slack", "U1", KEY), "vote": 1, "source": "platform"},
        {"answer_id": 1, "user": agent["agent-7"], "vote": -1, "source": "import", "reason": reason},
        {"answer_id": 2, "user": agent["agent-7"], "vote": 1, "source": "import"},
        {"answer_id": 2, "user": agent["agent-9"], "vote": -1, "source": "import"},
    ]
    assert "agent-7" not in target.read_text()
    assert not [p for p in target.parent.iterdir() if p.name != target.name]  # no temporary file left


def test_a_malformed_line_writes_nothing_and_names_the_line(data_dir, tmp_path):
    before = feedback(data_dir)
    source = write_lines(
        tmp_path / "votes.jsonl",
        {"answer_id": 1, "user": "agent-7", "vote": -1},
        {"answer_id": 2, "user": "agent-7", "vote": 1},
        '{"answer_id": 2, "user": "agent-8", "vote": 1',
    )
    result = run_cli("votes", "import", str(source))
    assert result.returncode == 1
    assert one_line_error(result).startswith(f"Error: {source} line 3: not valid JSON")
    assert feedback(data_dir) == before


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1, 2]", "expected a JSON object"),
        ({"answer_id": 1, "vote": 1}, "missing 'user'"),
        ({"answer_id": 1, "user": "a", "vote": 1, "score": 5}, "unknown 'score'"),
        ({"answer_id": "1", "user": "a", "vote": 1}, 'answer_id must be an integer, not "1"'),
        ({"answer_id": 1, "user": "a", "vote": 0}, "vote must be 1 or -1, not 0"),
        ({"answer_id": 1, "user": "a", "vote": True}, "vote must be 1 or -1, not true"),
        ({"answer_id": 1, "user": " ", "vote": 1}, "user must be a string, not empty"),
        ({"answer_id": 1, "user": "a", "vote": 1, "reason": 3}, "reason must be a string, not 3"),
        ({"answer_id": 99, "user": "a", "vote": 1}, "there is no answer 99"),
        ({"answer_id": 2**70, "user": "a", "vote": 1}, f"there is no answer {2**70}"),
    ],
)
def test_each_kind_of_bad_line_is_refused_whole(data_dir, tmp_path, capsys, line, problem):
    before = feedback(data_dir)
    source = write_lines(tmp_path / "votes.jsonl", {"answer_id": 1, "user": "agent-7", "vote": -1}, line)
    assert main(["votes", "import", str(source)]) == 1
    assert f"{source} line 2: {problem}" in " ".join(capsys.readouterr().err.split())
    assert feedback(data_dir) == before


def test_a_later_vote_replaces_an_earlier_one_in_the_file_and_on_reimport(data_dir, tmp_path):
    first = write_lines(
        tmp_path / "first.jsonl",
        {"answer_id": 2, "user": "agent-7", "vote": 1},
        {"answer_id": 2, "user": "agent-7", "vote": -1, "reason": "too long"},  # the file's own later vote
    )
    assert main(["votes", "import", str(first)]) == 0
    user = hash_user("import", "agent-7", KEY)
    assert feedback(data_dir)[1:] == [(2, user, -1, "too long", "import", 0)]

    again = write_lines(tmp_path / "again.jsonl", {"answer_id": 2, "user": "agent-7", "vote": 1})
    assert main(["votes", "import", str(again)]) == 0
    assert feedback(data_dir)[1:] == [(2, user, 1, None, "import", 0)]  # replaced, not added


def test_an_empty_or_missing_file_is_refused(data_dir, tmp_path, capsys):
    assert main(["votes", "import", str(write_lines(tmp_path / "empty.jsonl", ""))]) == 1
    assert "holds no votes" in capsys.readouterr().err
    assert main(["votes", "import", str(tmp_path / "absent.jsonl")]) == 1
    assert "Cannot read" in capsys.readouterr().err
