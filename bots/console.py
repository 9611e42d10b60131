"""The console adapter: a chat in the terminal, with 👍/👎 (typed as + or -) after each answer."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from bots.conversation import ConversationService
from bots.replies import Origin, Reply
from bots.user_input import parse_vote

QUIT_WORDS = {"quit", "exit", ":q"}


def print_reply(console: Console, reply: Reply) -> None:
    if reply.kind == "error":
        console.print(f"[red]{reply.text}[/]", highlight=False)
        return
    style = "yellow" if reply.declined else "green"
    if reply.condensed:  # shows what a follow-up was taken to mean, so a wrong reading is seen
        console.print(f"  [dim](answered as: {escape(reply.condensed)})[/]", highlight=False)
    console.print(f"[bold {style}]SupportLoop:[/] {reply.text}", highlight=False)
    for n, source in enumerate(reply.sources, start=1):
        console.print(f"  [dim][{n}][/] {source.title} — {source.url}", highlight=False)
    if not reply.votable:
        return
    console.print(
        f"  [dim]{reply.latency_s:.2f} s (retrieval {reply.retrieval_s:.2f} s, "
        f"answering {reply.generation_s:.2f} s)[/]"
    )


def run_chat(
    service: ConversationService,
    console: Console,
    read: Callable[[str], str] = input,
    user_id: str | None = None,
) -> int:
    """Chat until the user types ``quit`` or ends input; returns the number of votes recorded."""
    # One chat is one thread: a follow-up ("and on mobile?") is understood from the questions before it.
    origin = Origin("console", user_id or getpass.getuser(), "console", uuid.uuid4().hex)
    console.print(
        "Ask a question about the help pages. After each answer type + (👍) or - (👎), "
        "or press Enter to skip. Type quit to leave."
    )
    votes = 0
    while True:
        try:
            question = read("You: ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return votes
        if question.lower() in QUIT_WORDS:
            return votes
        if not question:
            continue
        reply = service.ask(question, origin)
        print_reply(console, reply)
        if reply.answer_id is None:
            continue
        try:
            answer = read("Helpful? [+/-/Enter]: ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return votes
        vote = parse_vote(answer)
        if vote is None:
            continue
        reason = None
        if vote < 0:
            try:
                reason = read("What was wrong? (optional): ").strip() or None
            except (EOFError, KeyboardInterrupt):
                reason = None
        thanks = service.vote(reply.answer_id, origin, vote, reason)
        votes += thanks.kind != "error"
        console.print(f"[dim]{thanks.text}[/]")
