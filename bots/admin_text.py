"""What admin commands reply, as Markdown that each adapter renders for its platform.

``**bold**`` and ``[title](url)`` are what Discord shows as is; the Slack adapter turns them into
mrkdwn (``*bold*``, ``<url|title>``). So nothing here writes Slack-only markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bots import messages
from bots.admin import GapSummary, StatusReport

GAPS_SHOWN = 5  # a chat message holds the top few; the console and `supportloop gaps` list them all
QUESTION_CHARS = 120

# A filesystem path in a status line (a model folder given by a setting): where things live on the
# server is for admins only.
_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/]\S*")


def format_status(report: StatusReport, *, full: bool) -> str:
    """``/supportloop status`` in Markdown (adapters render it per platform).

    Everyone sees the model version and the index size; only ``full`` (an admin) sees the feedback
    counts, the platforms and their listen addresses, and the recent jobs, which are internal.
    """
    model = report.model if full else _PATH.sub("(set on the server)", report.model)
    lines = [
        f"**Model:** {model}",
        f"**Index:** {report.index_pages} pages, {report.index_chunks} chunks",
    ]
    if not full:
        return "\n".join(lines)
    lines.append(f"**Feedback:** {report.answers} answers, {report.upvotes} 👍, {report.downvotes} 👎")
    if report.platforms:
        lines.append(f"**Platforms:** {', '.join(report.platforms)}")
    if report.recent_jobs:
        lines.append("**Recent jobs:**")
        for run in report.recent_jobs:
            when = run.finished_at or run.started_at or run.created_at
            stamp = f" ({when:%Y-%m-%d %H:%M} UTC)" if when else ""
            outcome = run.summary.get("result") or run.summary.get("error") or ""
            lines.append(f"• #{run.id} {run.kind}: {run.status}{stamp}{' — ' + outcome if outcome else ''}")
    else:
        lines.append("**Recent jobs:** none")
    return "\n".join(lines)


def format_gaps(gaps: Sequence[GapSummary]) -> str:
    """``/supportloop gaps``: the largest gaps, each with up to two example questions and the closest
    page (the one to extend), so an admin in a chat sees which pages to write without the console."""
    if not gaps:
        return messages.NO_GAPS
    lines = [messages.GAPS_TITLE]
    for number, gap in enumerate(gaps[:GAPS_SHOWN], start=1):
        declined = f", {gap.declined} declined" if gap.declined else ""
        examples = "; ".join(f"“{_short(q)}”" for q in gap.examples[:2])
        page = gap.closest_page
        closest = f"[{page.title or page.url}]({page.url})" if page else "none"
        lines.append(f"{number}. **{gap.count} questions**{declined}: {examples} (closest page: {closest})")
    if len(gaps) > GAPS_SHOWN:
        lines.append(f"…and {len(gaps) - GAPS_SHOWN} more in the console or `supportloop gaps`.")
    return "\n".join(lines)


def _short(question: str) -> str:
    """A question on one line, cut to fit a chat line; brackets out, so it cannot become a link."""
    flat = " ".join(question.split()).replace("[", "(").replace("]", ")")
    return flat if len(flat) <= QUESTION_CHARS else flat[: QUESTION_CHARS - 1] + "…"
