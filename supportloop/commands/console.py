"""``supportloop console`` and ``supportloop gaps``: the web console on its own, and the knowledge gaps
as a table."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated

import typer
from rich.table import Table

from core.errors import SupportLoopError
from core.settings import load_settings
from supportloop.commands.common import err, folding_table, out
from supportloop.gaps import GAP_DISTANCE, Gap
from supportloop.logs import setup_logging

app = typer.Typer()


@app.command()
def console() -> None:
    """Run the web console alone (conversations, knowledge gaps, model versions, jobs, settings).

    Listens on SUPPORTLOOP_CONSOLE_HOST:SUPPORTLOOP_CONSOLE_PORT and asks for SUPPORTLOOP_ADMIN_TOKEN.
    Jobs it queues are run by the deployment's worker (`supportloop serve`). `serve` also serves the
    console whenever the token is set. Ctrl-C or SIGTERM stops it.
    """
    from supportloop.app import SupportLoop
    from supportloop.serve import console_server

    settings = load_settings()
    if settings.admin_token is None:
        raise SupportLoopError(
            "The console is off: set SUPPORTLOOP_ADMIN_TOKEN to the token admins log in with."
        )
    setup_logging(settings.log_file, settings.log_level, settings.log_format)
    with SupportLoop(settings) as loop:
        loop.runs_jobs = False  # the worker of `supportloop serve` runs what the console queues

        async def run() -> None:
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            async with console_server(loop.admin, settings, err.print):
                await stop.wait()

        asyncio.run(run())


@app.command()
def gaps(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most gaps to list.")] = 10,
    distance: Annotated[
        float,
        typer.Option(
            "--distance",
            min=0.05,
            max=1.5,
            help="Cosine distance under which questions count as the same gap (lower: more, smaller gaps).",
        ),
    ] = GAP_DISTANCE,
) -> None:
    """List the knowledge gaps: declined and 👎 questions grouped by meaning, largest first, each with the
    closest existing help page ("pages to write")."""
    from supportloop.app import SupportLoop

    settings = load_settings()
    setup_logging(settings.log_file, settings.log_level, settings.log_format)
    with SupportLoop(settings) as loop:
        found = loop.admin.gaps(distance)
    if not found:
        out.print("No knowledge gaps: no question was declined or voted 👎 yet.")
        return
    out.print(gap_table(found[:limit]))


def gap_table(found: list[Gap]) -> Table:
    table = folding_table("questions", "examples", "👎 reasons", "closest page")
    for gap in found:
        page = gap.closest_page
        table.add_row(
            f"{gap.count}" + (f" ({gap.declined} declined)" if gap.declined else ""),
            "\n".join(gap.examples),
            "\n".join(gap.reasons),
            f"{page.url} ({page.similarity:.2f})" if page else "none",
        )
    return table
