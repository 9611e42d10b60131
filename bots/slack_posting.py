"""Posting in Slack: placeholders, replies (updated in place or posted), private notes and job lines.

A failed Web API call is logged in one line and never raised to the listener: the request that caused
it has been acknowledged already, and there is nobody left to tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots import messages
from bots.conversation import ConversationService
from bots.replies import Handoff, Reply
from bots.slack_render import (
    SECTION_CHARS,
    Blocks,
    SlackEscalation,
    private_blocks,
    render_reply,
    to_mrkdwn,
)

log = logging.getLogger(__name__)

PLATFORM = "slack"
# What a Web API call can raise: Slack's refusal, or the network's.
SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, OSError, TimeoutError)
# chat.update errors that mean "not these blocks": the text alone still replaces the placeholder.
REFUSED_BLOCKS = {"invalid_blocks", "invalid_blocks_format", "msg_too_long"}
POST_LINE_TIMEOUT_S = 30.0


def why(exc: BaseException) -> str:
    """Slack's error code, or the kind of network failure, for a log line."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "?"))
    return type(exc).__name__


class SlackPoster:
    """Shows the service's replies in Slack and links each posted message to its answer."""

    def __init__(self, client: AsyncWebClient, service: ConversationService) -> None:
        self.client = client
        self.service = service

    async def placeholder(self, channel: str, thread: str | None) -> str | None:
        """Post "Looking through the help pages…"; its ts, or None if Slack would not take it."""
        try:
            posted = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread, text=messages.PLACEHOLDER
            )
        except SLACK_ERRORS as exc:
            log.error("could not post in Slack channel %s (%s)", channel, why(exc))
            return None
        return str(posted["ts"])

    async def deliver(
        self, reply: Reply, channel: str, *, placeholder: str | None = None, thread: str | None = None
    ) -> None:
        """Show ``reply``: its first message replaces the placeholder (or is posted in ``thread``, or in the
        channel), the rest follow in the thread; each is linked to the answer so reactions on it count."""
        for n, message in enumerate(render_reply(reply)):
            fields: dict[str, Any] = {"text": message.text, "blocks": message.blocks}
            try:
                if n == 0 and placeholder is not None:
                    ts = await self._update(channel, placeholder, fields)
                else:
                    posted = await self.client.chat_postMessage(
                        channel=channel, thread_ts=thread, unfurl_links=False, unfurl_media=False, **fields
                    )
                    ts = str(posted["ts"])
            except SLACK_ERRORS as exc:
                log.error("could not post a reply in Slack channel %s (%s)", channel, why(exc))
                return
            thread = thread or ts
            await self.service.call(self.service.posted, reply, PLATFORM, channel, ts)

    async def _update(self, channel: str, ts: str, fields: dict[str, Any]) -> str:
        """``chat.update``; if Slack refuses the blocks, the text alone, so the placeholder never stays."""
        try:
            await self.client.chat_update(channel=channel, ts=ts, **fields)
        except SlackApiError as exc:
            if exc.response.get("error") not in REFUSED_BLOCKS:
                raise
            log.warning("Slack refused an answer's blocks (%s); sending text only", exc.response.get("error"))
            await self.client.chat_update(
                channel=channel, ts=ts, text=fields["text"][:SECTION_CHARS], blocks=[]
            )
        return ts

    async def ephemeral(
        self, channel: str, user: str, text: str, thread: str | None = None, blocks: Blocks | None = None
    ) -> None:
        """A line only ``user`` sees (with ``blocks``: buttons under it)."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=to_mrkdwn(text), thread_ts=thread, blocks=blocks
            )
        except SLACK_ERRORS as exc:
            log.warning("could not post a private reply in Slack (%s)", why(exc))

    async def private(self, channel: str, user: str, reply: Reply, thread: str | None = None) -> None:
        """A private reply, with its "Ask a person" button when the service offers one."""
        await self.ephemeral(channel, user, reply.text, thread, private_blocks(reply))

    async def escalation(self, handoff: Handoff, target: SlackEscalation) -> bool:
        """Post a request for a person: in the user's thread mentioning the group, or in the team's channel
        pointing at the thread. False if Slack would not take it (the claim is then given back)."""
        claim, body = handoff.claim, to_mrkdwn(handoff.reply.text)
        assert claim is not None
        if target.channel is not None:
            channel, thread = target.channel, None
            where = to_mrkdwn(messages.PERSON_NEEDED_IN).format(where=f"<#{claim.channel}>")
            text = f"{where}\n{body}"
        else:
            channel, thread = claim.channel, claim.thread
            text = f"{target.mention} {to_mrkdwn(messages.PERSON_NEEDED)}\n{body}"
        try:
            await self.client.chat_postMessage(
                channel=channel, thread_ts=thread, text=text, unfurl_links=False, unfurl_media=False
            )
        except SLACK_ERRORS as exc:
            log.error("could not ask for a person in Slack channel %s (%s)", channel, why(exc))
            return False
        return True

    async def line(self, channel: str, text: str) -> None:
        """A job's progress or result line, in the channel the job was started from."""
        try:
            await self.client.chat_postMessage(channel=channel, text=to_mrkdwn(text))
        except SLACK_ERRORS as exc:
            log.warning("could not post a job update in Slack (%s)", why(exc))

    def line_poster(
        self, channel: str, first_posted: asyncio.Event | None, running: Callable[[], bool]
    ) -> Callable[[str], None]:
        """``post`` for the service (made on the event loop): called from a worker thread, it hands the
        line to the loop and waits until it is posted, so a job's lines arrive in order (and after the
        "queued" line, once ``first_posted`` is set). Once ``running`` says no, lines are only logged."""
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()

        async def post(line: str) -> None:
            if first_posted is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_posted.wait(), POST_LINE_TIMEOUT_S)
            await self.line(channel, line)

        def post_line(line: str) -> None:
            if not running() or loop.is_closed():
                log.info("Slack bot stopped; not posting: %s", line)
                return
            future = asyncio.run_coroutine_threadsafe(post(line), loop)
            if threading.get_ident() == loop_thread:
                return  # called on the loop itself: waiting would deadlock
            try:
                future.result(POST_LINE_TIMEOUT_S)
            except Exception:
                log.exception("could not post a job update in Slack")

        return post_line
