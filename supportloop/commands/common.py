"""What the commands share: the two consoles, their tables, opening the app, loading models, writing files
atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Column, Table

from core.errors import IndexEmptyError, SupportLoopError
from core.masking import mask
from core.settings import load_settings
from supportloop.logs import setup_logging

if TYPE_CHECKING:
    from rag.ingest import IngestReport
    from supportloop.app import SupportLoop

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def folding_table(*columns: str | Column, **options: Any) -> Table:
    """A table for ``out`` whose columns fold a value too long for them onto more lines.

    Rich's default cuts it with "…", and a cut path, URL, file name or setting name can't be copied. A
    ``Column`` given here keeps its own settings (``no_wrap`` for what must stay on one line)."""
    return Table(*(Column(c, overflow="fold") if isinstance(c, str) else c for c in columns), **options)


def open_app(**overrides: object) -> SupportLoop:
    """The app on the configured settings, with ``overrides`` (already validated by the command)."""
    from supportloop.app import SupportLoop  # torch, transformers and Chroma load only when needed

    settings = load_settings()
    setup_logging(settings.log_file, settings.log_level, settings.log_format)
    return SupportLoop(settings.model_copy(update=overrides))


def load_model(loop: SupportLoop, *, recording: bool = True, require_index: bool = True) -> None:
    """Load what answering needs up front, with a spinner: the first run prepares model version 0 (~20 s).

    The chat model is loaded only in ``generate`` mode; answers that are recorded also need the
    current model version's id, which prepares version 0 on first use.
    """
    with err.status("Loading the index and the model (the first run prepares it, about 20 s)…"):
        try:
            loop.answerer.ensure_indexed()  # before preparing a model there would be nothing to use it on
        except IndexEmptyError:
            if require_index:
                raise
            err.print(
                "[yellow]No help pages are indexed yet:[/] answers will say so until you run "
                "`supportloop index URL`."
            )
        loop.embeddings.model  # noqa: B018  (questions are embedded: load it now, not at the first one)
        if loop.settings.answer_mode == "generate":
            loop.generator  # noqa: B018
        if recording:
            loop.model_version  # noqa: B018


def ingest_summary(report: IngestReport, where: str) -> str:
    return (
        f"Indexed {report.pages} pages from {mask(where)}: {report.changed} new or changed "
        f"({report.chunks} chunks embedded), {report.unchanged} unchanged, {report.removed} removed, "
        f"{report.skipped} skipped, {report.failed} failed."
    )


def fmt(value: object) -> str:
    """A metric for a table: three decimals for floats, a dash for none."""
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def numbered_lines(path: Path) -> list[tuple[int, str]]:
    """The non-blank lines of a JSON-lines input file with their line numbers, for errors to cite."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SupportLoopError(f"Cannot read {path}: {exc}.") from exc
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
