"""What the conversation service and the chat adapters exchange: messages in, replies out.

Kept apart from the service so that adapters, renderers and tests can build and read these values
without the service's dependencies (the database, the answerer, the admin backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from core.escalations import Claim

ReplyKind = Literal["answer", "declined", "error", "notice"]


@dataclass(frozen=True)
class Origin:
    """Who asked, and where: the platform's own ids (user ids are hashed before they are stored)."""

    platform: str
    user_id: str | None = None
    channel: str | None = None
    thread: str | None = None
    simulated: bool = False  # a simulated user (``supportloop simulate``): its votes are marked so

    @property
    def scripted(self) -> bool:
        """Asked from the command line (``supportloop ask``, batches, the demo's bundled questions):
        scripts expect the same answer every time, so such answers are never explored."""
        return self.platform == "cli"


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class Reply:
    """What to show. ``private`` replies are for the asker only (Slack ephemeral, Discord ephemeral)."""

    text: str
    kind: ReplyKind = "notice"
    answer_id: int | None = None
    sources: tuple[Source, ...] = ()
    private: bool = False
    retrieval_s: float = 0.0
    generation_s: float = 0.0
    grounding: float = 1.0  # share of the answer's sentences its passages support
    mode: str | None = None  # how the answer was made (``Answer.mode``), None for notices and errors
    model_version: int | None = None  # the model version that served it
    escalation: int | None = None  # the answer an "Ask a person" button under this reply asks about
    condensed: str | None = None  # the standalone question a follow-up in a thread was answered as
    thread: str | None = None  # where to show it when the event names no thread (a 👎 reaction's thanks)

    @property
    def declined(self) -> bool:
        return self.kind == "declined"

    @property
    def votable(self) -> bool:
        """Answers and declines carry 👍/👎 (a decline can be wrong too); notices and errors don't."""
        return self.answer_id is not None

    @property
    def latency_s(self) -> float:
        return self.retrieval_s + self.generation_s


@dataclass(frozen=True)
class Handoff:
    """What "Ask a person" does: with a ``claim``, post ``reply`` (the question and the answer) where the
    claim says, mentioning the team; without one, show ``reply`` privately (asked already, or off)."""

    reply: Reply
    claim: Claim | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """A chat message as the adapters see it; ``text`` has the mention of the bot already removed."""

    origin: Origin
    message_id: str
    text: str
    is_dm: bool = False
    mentions_bot: bool = False
    from_bot: bool = False
    in_thread: bool = False  # posted inside a thread (``origin.thread`` is that thread)
