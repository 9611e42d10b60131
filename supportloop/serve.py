"""``supportloop serve``: run every chat platform that has credentials, plus the job worker.

Each platform starts on its own: a rejected token or an outage on one is reported and the others keep
serving. SIGTERM or Ctrl-C stops the platforms, lets the job in progress finish, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from bots.conversation import ConversationService
from bots.platform import ChatPlatform
from core.errors import SupportLoopError
from core.settings import Settings

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
