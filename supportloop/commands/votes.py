"""Votes in and out: ``votes import FILE`` and ``votes export FILE`` (JSON lines).

An import is feedback from another help desk, or labels from the support team, on answers SupportLoop
gave (``answer_id`` is in ``ask --json`` and batch output). The whole file is checked before anything
is stored, and then stored in one transaction: a bad line leaves the feedback as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import SupportLoopError
from supportloop.commands.common import numbered_lines, open_app, out, write_atomically

app = typer.Typer(
    name="votes", help="Import votes from a file, or export all votes to one.", no_args_is_help=True
)

REQUIRED = {"answer_id": "an integer", "user": "a string", "vote": "1 or -1"}
OPTIONAL = {"reason": "a string"}
# Imported users are their own namespace: an id from another help desk is no Slack or Discord id.
IMPORT_PLATFORM = "import"


@app.command("import")
def import_votes(
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON lines: {"answer_id": 12, "user": "agent-7", "vote": 1 or -1, "reason": "…"}; '
            "reason is optional."
        ),
    ],
):
    """Store the votes in FILE as votes on SupportLoop's answers (source `import`).

    Users are stored hashed with SUPPORTLOOP_USER_HASH_KEY and reasons redacted, as for chat votes; one
    vote per user and answer, so a later vote (in the file, or a re-import) replaces an earlier one.
    """
    from core.records import ImportedVote, hash_user

    rows = _read_votes(file)
    with open_app() as loop:
        missing = loop.records.missing_answers(row["answer_id"] for _, row in rows)
        for number, row in rows:
            if row["answer_id"] in missing:
                raise SupportLoopError(f"{file} line {number}: there is no answer {row['answer_id']}.")
        key = loop.settings.user_hash_key.get_secret_value()
        votes = [
            ImportedVote(
                answer_id=row["answer_id"],
                user_hash=hash_user(IMPORT_PLATFORM, row["user"], key),
                vote=row["vote"],
                reason=row.get("reason") or None,
            )
            for _, row in rows
        ]
        added, replaced = loop.records.import_votes(votes)
    out.print(f"Imported {len(rows)} votes from {file}: {added} new, {replaced} replacing earlier ones.")


@app.command("export")
def export_votes(file: Annotated[Path, typer.Argument(help="Where to write the votes (JSON lines).")]):
    """Write every standing vote to FILE, one JSON object a line: answer_id, user (hashed), vote, source
    (platform, simulated or import) and the reason if there is one."""
    with open_app() as loop:
        votes = loop.records.export_votes()
    write_atomically(file, "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in votes))
    out.print(f"Exported {len(votes)} votes to {file}.")


def _read_votes(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Every vote in the file with its line number, or the first problem as ``FILE line N: …``."""
    rows = []
    for number, line in numbered_lines(path):
        problem = _problem(line)
        if problem:
            raise SupportLoopError(f"{path} line {number}: {problem}.")
        rows.append((number, json.loads(line)))
    if not rows:
        raise SupportLoopError(f"{path} holds no votes.")
    return rows


def _problem(line: str) -> str | None:
    """What is wrong with one line of an import file, if anything."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(row, dict):
        return 'expected a JSON object such as {"answer_id": 12, "user": "agent-7", "vote": 1}'
    missing = [repr(key) for key in REQUIRED if key not in row]
    extra = [repr(key) for key in row if key not in REQUIRED and key not in OPTIONAL]
    if missing:
        return f"missing {', '.join(missing)}"
    if extra:
        return f"unknown {', '.join(extra)} (allowed: answer_id, user, vote, reason)"
    wrong = {
        "answer_id": type(row["answer_id"]) is not int,
        "user": not isinstance(row["user"], str) or not row["user"].strip(),
        "vote": type(row["vote"]) is not int or row["vote"] not in (1, -1),
        "reason": row.get("reason") is not None and not isinstance(row["reason"], str),
    }
    for key, is_wrong in wrong.items():
        if is_wrong:
            expected = (REQUIRED | OPTIONAL)[key] + (", not empty" if key == "user" else "")
            return f"{key} must be {expected}, not {json.dumps(row[key])}"
    return None
