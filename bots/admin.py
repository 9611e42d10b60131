"""What admin commands need from the application, as an interface the shell implements and injects.

``bots/`` must not import the application shell (it owns the scheduler, the indexer and the model
registry), so ``/supportloop status``, ``reindex``, ``retrain``, ``audit`` and ``rollback`` reach them
through this protocol. ``/supportloop gaps`` reads the shell's knowledge gaps through ``GapSummary``,
which they satisfy without ``bots/`` importing them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.jobs import JobRun

JOB_KINDS = ("reindex", "retrain", "audit")


@dataclass(frozen=True)
class StatusReport:
    model: str
    index_pages: int
    index_chunks: int
    answers: int
    upvotes: int
    downvotes: int
    recent_jobs: list[JobRun] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)


class ClosestPageSummary(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def title(self) -> str: ...


class GapSummary(Protocol):
    """A knowledge gap as ``/supportloop gaps`` shows it: how many questions, examples, the nearest page."""

    @property
    def count(self) -> int: ...

    @property
    def declined(self) -> int: ...

    @property
    def examples(self) -> list[str]: ...

    @property
    def closest_page(self) -> ClosestPageSummary | None: ...


@dataclass(frozen=True)
class JobTicket:
    run: JobRun
    will_run: bool  # False: queued, but no worker in this deployment runs this kind of job yet


class AdminBackend(Protocol):
    def status(self) -> StatusReport:
        """Current model version, index size, feedback counts, recent jobs."""
        ...

    def start_job(self, kind: str, requested_by: str, listener: Callable[[str], None]) -> JobTicket:
        """Queue a job; ``listener`` hears its progress and result as lines to post."""
        ...

    def rollback(self, version: int) -> str:
        """Serve an earlier model version at once; returns a line saying what changed.

        Raises ``SupportLoopError`` when the version does not exist or its folder is unusable.
        """
        ...

    def gaps(self) -> Sequence[GapSummary]:
        """Declined and 👎 questions grouped by meaning, largest group first."""
        ...
