"""Progress for long work: a bar in a terminal, progress lines in the log either way."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

log = logging.getLogger("supportloop.progress")


class Tracker:
    """Counts finished units of work; logs a line at every tenth of the total (or every 50 units)."""

    def __init__(self, description: str, total: int | None) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self._logged = -1
        self._bar: tuple[Progress, TaskID] | None = None

    def advance(self, n: int = 1, total: int | None = None, status: str = "") -> None:
        self.done += n
        if total is not None:
            self.total = total
        if self._bar:
            bar, task = self._bar
            bar.update(task, advance=n, total=self.total, status=status)
        step = self.done * 10 // self.total if self.total else self.done // 50
        if step != self._logged:
            self._logged = step
            log.info("%s: %s/%s", self.description, self.done, self.total or "?")


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Tracker]:
    """Yield a ``Tracker``; in a terminal its progress is drawn as a bar on stderr."""
    tracker = Tracker(description, total)
    if sys.stderr.isatty():
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns) as bar:
            tracker._bar = (bar, bar.add_task(description, total=total, status=""))
            yield tracker
    else:
        yield tracker
    log.info("%s: done (%s)", description, tracker.done)
