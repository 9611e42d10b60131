"""Looking at the installation: ``status`` and ``settings``."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Column

from core.jobs import ended_line
from core.settings import ENV_PREFIX, Settings, is_secret, load_settings, mask
from supportloop.commands.common import folding_table, open_app, out

if TYPE_CHECKING:
    from supportloop.app import SupportLoop

app = typer.Typer()

# The pages and chunks of a collection in the embedded Chroma's own SQLite file (Chroma 1.x layout).
CHROMA_STATS = """
SELECT COUNT(e.id), COUNT(DISTINCT m.string_value)
FROM collections c
JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA'
JOIN embeddings e ON e.segment_id = s.id
LEFT JOIN embedding_metadata m ON m.id = e.id AND m.key = 'source'
WHERE c.name = ?
"""


@app.command()
def status():
    """Show the data directory, current model version, index size and counts of answers and votes.

    Jobs whose process died (no heartbeat for SUPPORTLOOP_JOB_STALE_S) are marked failed and listed.
    """
    with open_app() as loop:
        reaped = loop.jobs.reap_stale()
        settings = loop.settings
        version = loop.registry.current_id()
        counts = loop.records.counts()
        pages, chunks = _index_size(loop)
        table = folding_table(Column(no_wrap=True), "", show_header=False, box=None)
        table.add_row("Data directory", escape(str(settings.data_dir.resolve())))
        table.add_row("Database", escape(mask(settings.resolved_database_url)))
        if settings.chroma_url:
            table.add_row("Chroma server", escape(mask(settings.chroma_url)))
        if settings.llm_url:
            table.add_row("Model server", escape(mask(settings.llm_url)))
            table.add_row("Harm reader", escape(loop.harm_reader_state))
        mode = settings.answer_mode
        if settings.llm_url and mode == "extractive":  # a server set up and unused is easy to miss
            mode += " (the model server answers only with SUPPORTLOOP_ANSWER_MODE=generate)"
        table.add_row("Answer mode", mode)
        if settings.model_path:
            table.add_row("Model", escape(f"{settings.model_path} (SUPPORTLOOP_MODEL_PATH)"))
        else:
            table.add_row(
                "Model version",
                "none yet (version 0 is prepared on first use)" if version is None else str(version),
            )
        table.add_row("Index", f"{pages} pages, {chunks} chunks")
        table.add_row("Answers", str(counts.answers))
        table.add_row("Votes", f"{counts.votes} ({counts.upvotes} 👍, {counts.downvotes} 👎)")
        out.print(table)
        for run in reaped:
            out.print(escape(ended_line(run)))


def _index_size(loop: SupportLoop) -> tuple[int, int]:
    """Pages and chunks in the index.

    The embedded index is counted in Chroma's SQLite file directly: loading Chroma to count would
    take longer than all the rest of ``status``. A Chroma server, or a file laid out otherwise, is
    asked through the index.
    """
    path = loop.settings.chroma_dir / "chroma.sqlite3"
    if not loop.settings.chroma_url:
        if not path.exists():
            return 0, 0
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                chunks, pages = db.execute(CHROMA_STATS, (loop.settings.collection_name,)).fetchone()
            return pages, chunks
        except sqlite3.Error:
            pass
    stats = loop.index.stats()
    return stats.pages, stats.chunks


@app.command("settings")
def show_settings():
    """List every setting with its environment variable, default and current value."""
    current = load_settings()
    # The variable's name is what a user copies into .env: whole, on one line, however narrow the terminal.
    table = folding_table(Column("environment variable", no_wrap=True), "default", "current", "meaning")
    for name, field in Settings.model_fields.items():
        secret = is_secret(name)
        value = getattr(current, name)
        table.add_row(
            f"{ENV_PREFIX}{name.upper()}",
            "(secret)" if secret else _show(field.default),
            "(set)" if secret and value != field.default else ("" if secret else _show(value)),
            escape(field.description or ""),
        )
    out.print(table)


def _show(value: Any) -> str:
    return "(unset)" if value is None else escape(mask(str(value)))
