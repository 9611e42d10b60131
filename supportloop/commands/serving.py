"""Running the service and connecting it to the platforms: ``serve``, ``health``, ``slack-manifest``,
``discord-invite``."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer

from core.errors import SupportLoopError
from core.settings import load_settings
from supportloop.commands.common import err, load_model, open_app, out

app = typer.Typer()


class Role(StrEnum):
    bot = "bot"
    worker = "worker"
    all = "all"


@app.command()
def serve(
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="bot: answer on the chat platforms; worker: run scheduled and requested jobs (re-crawl, "
            "retrain, audit); all: both. Many bot replicas may share one database and Chroma server; "
            "of all worker processes, exactly one runs the jobs at a time.",
        ),
    ] = Role.all,
):
    """Answer on Slack and Discord (each that has credentials) and/or run jobs, until stopped.

    Slack: SUPPORTLOOP_SLACK_BOT_TOKEN plus SUPPORTLOOP_SLACK_APP_TOKEN (Socket Mode) or
    SUPPORTLOOP_SLACK_SIGNING_SECRET (HTTP events at http://SLACK_HOST:SLACK_PORT/slack/events).
    Discord: SUPPORTLOOP_DISCORD_TOKEN. A platform that fails to start is reported and the others keep
    running. The worker queues re-crawls, retrains and audits on the SUPPORTLOOP_*_CRON schedules and
    runs them; several workers elect one through a lease in the database. Ctrl-C or SIGTERM stops cleanly.
    """
    import asyncio
    import contextlib
    import signal

    from core.lease import SCHEDULER_LEASE, Lease
    from supportloop.leader import Leader
    from supportloop.ops_server import ops_server
    from supportloop.scheduler import start_scheduler
    from supportloop.serve import configured_platforms, console_server, run_platforms

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM while loading stops as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, interrupt)
    with open_app() as loop:
        platforms = []
        if role is not Role.worker:
            platforms = configured_platforms(loop.settings, loop.conversations)
            load_model(loop, require_index=False)

        def lead() -> Callable[[], None]:
            loop.worker.start()
            scheduler = start_scheduler(loop.settings, loop.db)

            def stop() -> None:
                scheduler.shutdown(wait=False)
                loop.worker.stop()

            return stop

        leader = None
        if role is not Role.bot:
            leader = Leader(Lease(loop.db, SCHEDULER_LEASE, loop.settings.lease_ttl_s), lead)
            leader.start()
        loop.runs_jobs, loop.leader = leader is not None, leader

        def started(names: list[str]) -> None:
            loop.platforms[:] = names

        async def run() -> None:
            # Bot replicas leave the console to the worker, so replicas on one host share no port.
            console = (
                contextlib.nullcontext()
                if role is Role.bot
                else console_server(loop.admin, loop.settings, err.print)
            )
            async with ops_server(loop, role.value, leader, err.print), console:
                await run_platforms(platforms, err.print, started=started)

        try:
            asyncio.run(run())
        finally:
            if leader is not None:
                leader.stop()


@app.command()
def health():
    """Ask the `supportloop serve` on this machine whether it is healthy (exit 0) or not (exit 1).

    Reads http://127.0.0.1:SUPPORTLOOP_OPS_PORT/healthz; container health checks run this.
    """
    import httpx

    settings = load_settings()
    host = "127.0.0.1" if settings.ops_host in ("0.0.0.0", "::") else settings.ops_host
    url = f"http://{host}:{settings.ops_port}/healthz"
    try:
        response = httpx.get(url, timeout=5)
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SupportLoopError(
            f"No health report at {url} ({type(exc).__name__}): is `supportloop serve` running?"
        ) from exc
    out.print(report.get("status", "no status"))
    if response.status_code != 200:
        raise typer.Exit(1)


@app.command("slack-manifest")
def slack_manifest(
    request_url: Annotated[
        str | None,
        typer.Option(
            "--request-url",
            help="Public URL of /slack/events for HTTP mode, e.g. https://bot.example.com/slack/events; "
            "without it the manifest enables Socket Mode.",
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The app's display name in Slack.")] = "SupportLoop",
):
    """Print the Slack app manifest (scopes, events, /supportloop, interactivity) as JSON.

    Paste it at https://api.slack.com/apps → Create New App → From a manifest.
    """
    from bots.slack_manifest import slack_manifest as manifest

    if request_url is not None and not request_url.startswith("https://"):
        raise SupportLoopError(f"--request-url must be an https:// URL Slack can reach, not {request_url!r}.")
    out.print_json(data=manifest(request_url=request_url, name=name))


@app.command("discord-invite")
def discord_invite(
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="The application id; default: read from SUPPORTLOOP_DISCORD_TOKEN."),
    ] = None,
):
    """Print the URL that adds the bot to a Discord server, with exactly the permissions it needs."""
    from bots.discord_bot import client_id_from_token, invite_url

    if client_id is None:
        token = load_settings().discord_token
        client_id = client_id_from_token(token.get_secret_value()) if token is not None else None
    if client_id is None or not client_id.isdigit():
        raise SupportLoopError(
            "Give --client-id (the Application ID in Discord's Developer Portal) or set a valid "
            "SUPPORTLOOP_DISCORD_TOKEN."
        )
    out.print(invite_url(client_id))
