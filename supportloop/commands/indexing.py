"""Bringing help pages into the index: ``index``."""

from __future__ import annotations

from typing import Annotated

import typer

from core.errors import SupportLoopError
from supportloop.commands.common import ingest_summary, open_app, out

app = typer.Typer()


@app.command()
def index(
    urls: Annotated[
        list[str] | None, typer.Argument(help="Start URL(s) of the help site, e.g. https://help.example.com/")
    ] = None,
    sitemap: Annotated[
        list[str] | None, typer.Option("--sitemap", help="A sitemap (or sitemap index) URL; repeatable.")
    ] = None,
):
    """Crawl a help site and bring its pages in the index up to date.

    Re-running it is cheap: unchanged pages are not downloaded again (ETag/Last-Modified) nor
    re-embedded, and pages that are gone leave the index. A crawl that fails changes nothing.
    """
    from rag.ingest import ingest_site

    if not urls and not sitemap:
        raise SupportLoopError(
            "Give a start URL or --sitemap URL, e.g. supportloop index https://help.example.com/"
        )
    with open_app() as loop:
        report = ingest_site(urls or [], loop.index, loop.settings, sitemaps=sitemap or [])
        out.print(ingest_summary(report, (urls or sitemap or [""])[0]))
