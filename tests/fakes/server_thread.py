"""What the fakes of Slack and Discord share: an aiohttp server on 127.0.0.1 in its own thread.

Tests are plain synchronous functions, and the bot under test runs its own event loop, so each fake
serves from a thread with a private event loop; ``_run`` hands it a coroutine from the test's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Self, TypeVar

from aiohttp import web

T = TypeVar("T")


class ServerThread:
    """Base of a fake: subclasses add their routes and say what to set up and close around serving."""

    name = "fake server"

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def on_start(self) -> None:
        """Make what must belong to the server's loop (events, futures)."""

    async def on_stop(self) -> None:
        """Close open websockets and cancel what waits, before the server goes."""

    def __enter__(self) -> Self:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # surfaced in the test thread below
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError(f"{self.name} did not start")
        if errors:
            raise errors[0]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is None or self._thread is None:
            return
        self._run(self._stop(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application()
        self.add_routes(app)
        await self.on_start()
        self._runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        await self.on_stop()
        if self._runner is not None:
            await self._runner.cleanup()

    def _run(self, coro: Awaitable[T], timeout: float) -> T:
        """Run a coroutine on the server's loop from the test's thread."""
        assert self._loop is not None, f"use the {self.name} as a context manager"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]
