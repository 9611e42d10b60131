"""Reading Slack payloads: the few fields SupportLoop uses, from bodies that may be partial or malformed.

Slack's payloads are deeply nested and a field can be missing or of another type (a workspace's other
apps, an old client, or anyone who can reach the endpoint send them); nothing here raises on that.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bots.replies import IncomingMessage, Origin
from bots.slack_posting import PLATFORM

log = logging.getLogger(__name__)

# Plain messages, the two subtypes that still carry a person's words, and bots' messages (which the
# service ignores); edits, deletions, joins and the like are not questions.
ANSWERED_SUBTYPES = {None, "thread_broadcast", "file_share", "bot_message"}


def get(data: Any, *keys: str) -> Any:
    """``data[k1][k2]…`` or None when any level is missing or not a dict (payloads can be partial)."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def describe(body: dict[str, Any]) -> str:
    """What a request is, for logs (never its content)."""
    kind = body.get("type") or ("command" if "command" in body else "request")
    if kind == "event_callback":
        return f"event {get(body, 'event', 'type')}"
    return str(kind)


def incoming_message(
    event: dict[str, Any], bot_user_id: str | None, mention: re.Pattern[str]
) -> IncomingMessage | None:
    """The service's view of an ``app_mention``/``message`` event; None for edits, joins, junk.

    ``mention`` matches a mention of the bot, which is taken out of the question's text.
    """
    kind, subtype = event.get("type"), event.get("subtype")
    if subtype not in ANSWERED_SUBTYPES:
        log.debug("ignored a Slack %s event of subtype %s", kind, subtype)
        return None
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    from_bot = bool(event.get("bot_id")) or subtype == "bot_message" or user == bot_user_id
    if not (isinstance(channel, str) and isinstance(ts, str)) or not (user or from_bot):
        log.warning("dropped a malformed Slack %s event (no channel, ts or user)", kind)
        return None
    text = event.get("text") if isinstance(event.get("text"), str) else ""
    thread = event.get("thread_ts") if isinstance(event.get("thread_ts"), str) else None
    return IncomingMessage(
        origin=Origin(PLATFORM, user, channel, thread or ts),
        message_id=ts,
        text=mention.sub(" ", text).strip(),
        is_dm=event.get("channel_type") == "im",
        mentions_bot=kind == "app_mention" or bool(mention.search(text)),
        from_bot=from_bot,
        in_thread=thread is not None and thread != ts,
    )
