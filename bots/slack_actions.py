"""Slack's buttons and modals: 👍/👎, the "what was wrong?" note, and "Ask a person".

Every click is acknowledged first (Slack waits 3 s) and handled afterwards. "Ask a person" is posted at
most once per thread: the service claims the thread's one escalation before anything is posted, so a
second press or a click Slack delivers again only gets a private "already asked".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bots import messages
from bots.conversation import ConversationService
from bots.custom_ids import parse_escalate_id, parse_reason_id, parse_vote_id
from bots.replies import Origin
from bots.slack_payloads import get
from bots.slack_posting import PLATFORM, SLACK_ERRORS, SlackPoster, why
from bots.slack_render import REASON_ACTION, REASON_BLOCK, SlackEscalation, reason_view

log = logging.getLogger(__name__)


class SlackActions:
    """The listeners for SupportLoop's buttons and modals; ``working`` marks a click in progress."""

    def __init__(
        self,
        service: ConversationService,
        client: AsyncWebClient,
        poster: SlackPoster,
        working: Callable[[], AbstractContextManager[None]],
        escalate: SlackEscalation | None,
    ) -> None:
        self.service = service
        self.client = client
        self.poster = poster
        self.working = working
        self.escalate = escalate

    async def on_vote(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A 👍/👎 button: record the vote, thank the voter privately; a 👎 also opens the reason modal."""
        await ack()
        with self.working():
            parsed = parse_vote_id(action.get("action_id", ""))
            user = get(body, "user", "id")
            channel, thread = _where(body)
            if not user:
                log.warning("dropped a malformed Slack vote action")
                return
            if parsed is None:  # the action id matched, but no answer can have that id
                log.info("a Slack vote button named no storable answer")
                if channel:
                    await self.poster.ephemeral(channel, user, messages.VOTE_GONE, thread)
                return
            answer_id, vote = parsed
            origin = Origin(PLATFORM, user, channel, thread)
            reply = await self.service.call(self.service.vote, answer_id, origin, vote)
            trigger = body.get("trigger_id")
            if vote < 0 and reply.kind != "error" and trigger:
                # The trigger expires 3 s after the click, so the modal goes before anything else.
                try:
                    await self.client.views_open(
                        trigger_id=trigger, view=reason_view(answer_id, channel, thread)
                    )
                except SLACK_ERRORS as exc:
                    log.warning("could not open the reason modal (%s)", why(exc))
            if channel:
                await self.poster.private(channel, user, reply, thread)

    async def on_reason(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The reason modal was sent: attach the note to the 👎; an empty note is like closing it."""
        await ack()
        with self.working():
            answer_id = parse_reason_id(view.get("callback_id", ""))
            user = get(body, "user", "id")
            if answer_id is None or not user:
                log.warning("dropped a malformed Slack reason submission")
                return
            note = get(view, "state", "values", REASON_BLOCK, REASON_ACTION, "value") or ""
            try:
                where = json.loads(view.get("private_metadata") or "{}")
            except ValueError:
                where = {}
            where = where if isinstance(where, dict) else {}
            channel, thread = where.get("channel"), where.get("thread")
            origin = Origin(PLATFORM, user, channel, thread)
            reply = await self.service.call(self.service.give_reason, answer_id, origin, str(note))
            if str(note).strip() and channel:
                await self.poster.private(channel, user, reply, thread)

    async def on_escalate(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """The "Ask a person" button: post the question and the answer for the team, once per thread."""
        await ack()
        with self.working():
            answer_id = parse_escalate_id(action.get("action_id", ""))
            user = get(body, "user", "id")
            channel, thread = _where(body)
            if not user or not channel:
                log.warning("dropped a malformed Slack escalation action")
                return
            if answer_id is None or self.escalate is None:
                await self.poster.ephemeral(
                    channel,
                    user,
                    messages.VOTE_GONE if answer_id is None else messages.ESCALATION_OFF,
                    thread,
                )
                return
            origin = Origin(PLATFORM, user, channel, thread)
            button_thread = thread or get(body, "container", "message_ts")
            handoff = await self.service.call(self.service.escalate, answer_id, origin, button_thread)
            if handoff.claim is None:
                await self.poster.ephemeral(channel, user, handoff.reply.text, thread)
            elif not await self.poster.escalation(handoff, self.escalate):
                failed = await self.service.call(self.service.withdraw, handoff.claim)
                await self.poster.ephemeral(channel, user, failed.text, thread)
            elif self.escalate.channel is not None:
                await self.poster.ephemeral(channel, user, messages.ESCALATED_TO_CHANNEL, thread)


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The channel and thread of the message a button was on."""
    channel = get(body, "channel", "id") or get(body, "container", "channel_id")
    thread = get(body, "container", "thread_ts") or get(body, "message", "thread_ts")
    return channel, thread
