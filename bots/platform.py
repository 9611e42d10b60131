"""What every chat platform adapter offers the service runner."""

from __future__ import annotations

from typing import Protocol


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
