"""Looking at the installation: ``status`` and ``settings``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from core.settings import ENV_PREFIX, Settings, is_secret, load_settings
from supportloop.commands.common import open_app, out

app = typer.Typer()


@app.command()
def status():
    """Show the data directory, current model version, index size and counts of answers and votes."""
    with open_app() as loop:
        settings = loop.settings
        version = loop.registry.current_id()
        counts = loop.records.counts()
        stats = loop.index.stats()
        table = Table(show_header=False, box=None)
        table.add_row("Data directory", str(settings.data_dir.resolve()))
        table.add_row("Database", _safe_url(settings.resolved_database_url))
        if settings.model_path:
            table.add_row("Model", f"{settings.model_path} (SUPPORTLOOP_MODEL_PATH)")
        else:
            table.add_row(
                "Model version",
                "none yet (version 0 is prepared on first use)" if version is None else str(version),
            )
        table.add_row("Index", f"{stats.pages} pages, {stats.chunks} chunks")
        table.add_row("Answers", str(counts.answers))
        table.add_row("Votes", f"{counts.votes} ({counts.upvotes} 👍, {counts.downvotes} 👎)")
        out.print(table)


@app.command("settings")
def show_settings():
    """List every setting with its environment variable, default and current value."""
    current = load_settings()
    table = Table("environment variable", "default", "current", "meaning")
    for name, field in Settings.model_fields.items():
        secret = is_secret(name)
        value = getattr(current, name)
        table.add_row(
            f"{ENV_PREFIX}{name.upper()}",
            "(secret)" if secret else _show(field.default),
            "(set)" if secret and value != field.default else ("" if secret else _show(value)),
            field.description or "",
        )
    out.print(table)


def _show(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
