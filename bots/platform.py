"""What every chat platform adapter offers the service runner, and the answering rhythm they share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
P = TypeVar("P")

# An answer ready within this many seconds is posted as it is; a slower one gets the placeholder
# ("Looking through the help pages…") first, which is then edited into the answer. Most answers are
# quicker than this, and a placeholder that is replaced at once only flickers.
PLACEHOLDER_AFTER_S = 2.0


class ChatPlatform(Protocol):
    """A connection to one chat platform (Slack, Discord) that feeds the conversation service."""

    @property
    def description(self) -> str:
        """What is running, for people: e.g. "Slack (Socket Mode)"."""
        ...

    async def start(self) -> None:
        """Connect and start answering; raise ``SupportLoopError`` if the platform rejects the credentials."""
        ...

    async def stop(self) -> None:
        """Disconnect; answers in progress may finish, nothing new is accepted."""
        ...


async def answer_with_placeholder(
    answer: Awaitable[T], show_placeholder: Callable[[], Awaitable[P]], after_s: float
) -> tuple[T, P | None]:
    """The answer, and the placeholder shown while waiting for it (None when it came within
    ``after_s``): the adapter edits that placeholder into the answer, or posts the answer afresh."""
    answering = asyncio.ensure_future(answer)
    done, _ = await asyncio.wait({answering}, timeout=after_s)
    if done:
        return answering.result(), None
    try:
        shown = await show_placeholder()
    except BaseException:
        answering.cancel()
        raise
    return await answering, shown


class InProgress:
    """The tasks handling events right now, so that an adapter's ``stop`` lets them finish.

    An answer is posted and then linked to its message (so its buttons and reactions count as votes);
    a shutdown between the two would leave a posted answer whose votes are lost.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return sum(not task.done() for task in self._tasks)

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Count the current task as in progress until the block ends."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def drain(self, timeout: float) -> set[asyncio.Task[Any]]:
        """Wait up to ``timeout`` seconds for the tasks in progress; those still running."""
        busy = {task for task in self._tasks if not task.done()}
        if not busy:
            return set()
        _, late = await asyncio.wait(busy, timeout=timeout)
        return late
