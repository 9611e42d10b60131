"""``supportloop serve``: run every chat platform that has credentials, plus the job worker and, with an
admin token, the web console.

Each platform starts on its own: a rejected token or an outage on one is reported and the others keep
serving. SIGTERM or Ctrl-C stops the platforms, lets the job in progress finish, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import uvicorn

from bots.conversation import ConversationService
from bots.platform import ChatPlatform
from core.errors import SupportLoopError
from core.settings import Settings

if TYPE_CHECKING:
    from supportloop.operations import AdminService

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15


def configured_platforms(settings: Settings, service: ConversationService) -> list[ChatPlatform]:
    """An adapter for each platform whose credentials are set (the adapters' libraries load only then)."""
    platforms: list[ChatPlatform] = []
    if settings.slack_bot_token is not None:
        from bots.slack_bot import SlackBot

        platforms.append(SlackBot.from_settings(service, settings))
    if settings.discord_token is not None:
        from bots.discord_bot import DiscordBot

        platforms.append(DiscordBot.from_settings(service, settings))
    if not platforms:
        raise SupportLoopError(
            "No chat platform is configured: set SUPPORTLOOP_SLACK_BOT_TOKEN (with "
            "SUPPORTLOOP_SLACK_APP_TOKEN for Socket Mode, or SUPPORTLOOP_SLACK_SIGNING_SECRET for HTTP "
            "events) and/or SUPPORTLOOP_DISCORD_TOKEN. See `supportloop settings`."
        )
    return platforms


async def run_platforms(
    platforms: list[ChatPlatform],
    say: Callable[[str], None],
    stop: asyncio.Event | None = None,
    started: Callable[[list[str]], None] = lambda names: None,
) -> list[str]:
    """Start every platform, serve until ``stop`` is set (or SIGTERM/SIGINT), then stop them.

    Returns the descriptions of the platforms that ran; raises ``SupportLoopError`` when there were
    platforms and none could start. With no platforms (a worker) it only waits for the stop.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    results = await asyncio.gather(
        *(asyncio.wait_for(p.start(), START_TIMEOUT_S) for p in platforms), return_exceptions=True
    )
    running: list[ChatPlatform] = []
    for platform, result in zip(platforms, results, strict=True):
        if isinstance(result, BaseException):
            reason = (
                str(result) if isinstance(result, SupportLoopError) else f"{type(result).__name__}: {result}"
            )
            if isinstance(result, TimeoutError):
                reason = f"no connection within {START_TIMEOUT_S} s"
            log.info(
                "%s did not start: %s", platform.description, reason, exc_info=result
            )  # for the log file
            say(f"{platform.description} did not start: {reason}")
        else:
            running.append(platform)
    if platforms and not running:
        raise SupportLoopError("No chat platform could start; see the messages above.")
    names = [p.description for p in running]
    started(names)
    say(
        f"Serving on {', '.join(names)}. Stop with Ctrl-C (or SIGTERM)."
        if names
        else "Running jobs. Stop with Ctrl-C (or SIGTERM)."
    )
    try:
        await stop.wait()
    finally:
        say("Stopping…")
        await asyncio.gather(
            *(asyncio.wait_for(p.stop(), STOP_TIMEOUT_S) for p in running), return_exceptions=True
        )
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
    return names


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside ``serve``: the application's shell owns SIGINT/SIGTERM, not the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def console_server(
    admin: AdminService, settings: Settings, say: Callable[[str], None]
) -> AsyncIterator[int | None]:
    """Serve the web console while the block runs, if ``SUPPORTLOOP_ADMIN_TOKEN`` is set; yields its port.

    Without the token the console is off (yields None): no admin page may be reachable without it.
    """
    if settings.admin_token is None:
        yield None
        return
    from supportloop.console.server import create_console

    app = create_console(admin, settings.admin_token.get_secret_value())
    config = uvicorn.Config(app, log_level="warning", log_config=None)
    # Bound here, not by uvicorn: a taken port is then one line saying what to change, not an exit.
    try:
        sock = socket.create_server((settings.console_host, settings.console_port))
    except OSError as exc:
        raise SupportLoopError(
            f"The web console cannot listen on {settings.console_host}:{settings.console_port} ({exc}): "
            "set SUPPORTLOOP_CONSOLE_PORT to a free port."
        ) from exc
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    port = sock.getsockname()[1]
    say(f"Web console on http://{settings.console_host}:{port}/ (log in with SUPPORTLOOP_ADMIN_TOKEN).")
    try:
        yield port
    finally:
        server.should_exit = True
        _, late = await asyncio.wait({task}, timeout=10)
        for pending in late:
            pending.cancel()
