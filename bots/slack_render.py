"""Slack rendering: a ``Reply`` as Block Kit messages in mrkdwn, and the "what was wrong?" modal.

Reply text is Markdown as Discord shows it (``**bold**``, ``[title](url)``); Slack's mrkdwn differs
(``*bold*``, ``<url|title>``, and ``&``, ``<``, ``>`` are control characters), so everything a Slack user
reads goes through ``to_mrkdwn``. Slack's limits (3000 characters a section, 50 blocks and 40k characters
a message) decide how a long reply is split.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bots import messages
from bots.conversation import Reply, Source, reason_id, vote_id
from bots.formatting import for_chat, split_text

SECTION_CHARS = 3000  # Slack's limit on a section block's text
MESSAGE_CHARS = 39_000  # a message's text (its notification fallback) is cut at 40k
MESSAGE_BLOCKS = 45  # of Slack's 50 per message, leaving room for the sources and the buttons
REASON_BLOCK = REASON_ACTION = "reason"
_LINK = re.compile(r"\[(?P<title>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(?P<text>.+?)(?<=\S)\*\*")


@dataclass(frozen=True)
class SlackMessage:
    """One Slack message of a reply: Block Kit blocks and the plain-text fallback for notifications."""

    text: str
    blocks: list[dict[str, Any]]


def escape(text: str) -> str:
    """Slack's three control characters, so answer text can never become a link or an @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(text: str) -> str:
    """Reply text as Slack mrkdwn: escaped, Markdown links as ``<url|title>``, ``**bold**`` as ``*bold*``."""
    pieces, done = [], 0
    for link in _LINK.finditer(text):
        pieces += [escape(text[done : link.start()]), f"<{escape(link['url'])}|{escape(link['title'])}>"]
        done = link.end()
    pieces.append(escape(text[done:]))
    return _BOLD.sub(lambda m: f"*{m['text']}*", "".join(pieces))


def render_reply(reply: Reply) -> list[SlackMessage]:
    """The messages that show ``reply``: its text in ≤3000-character sections, as many messages as the
    per-message limits need, with the sources and the 👍/👎 buttons under the last one."""
    text, sources = for_chat(reply)
    parts = [part for part in split_text(to_mrkdwn(text), SECTION_CHARS) if part.strip()] or ["…"]
    groups: list[list[str]] = [[]]
    for part in parts:
        group = groups[-1]
        if group and (len(group) >= MESSAGE_BLOCKS or sum(map(len, group)) + len(part) > MESSAGE_CHARS):
            groups.append(group := [])
        group.append(part)
    rendered = []
    for n, group in enumerate(groups):
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": part}} for part in group
        ]
        if n == len(groups) - 1:
            blocks += _sources_block(sources) + _vote_block(reply)
        rendered.append(SlackMessage("\n".join(group), blocks))
    return rendered


def _sources_block(sources: tuple[Source, ...]) -> list[dict[str, Any]]:
    if not sources:
        return []
    links = " · ".join(f"<{escape(s.url)}|{escape(s.title)}>" for s in sources)
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{messages.SOURCES}:* {links}"}]}]


def _vote_block(reply: Reply) -> list[dict[str, Any]]:
    if reply.answer_id is None:
        return []
    buttons = []
    for vote, emoji in ((1, "👍"), (-1, "👎")):
        custom_id = vote_id(reply.answer_id, vote)
        text = {"type": "plain_text", "text": emoji, "emoji": True}
        buttons.append({"type": "button", "action_id": custom_id, "value": custom_id, "text": text})
    return [{"type": "actions", "block_id": "supportloop_votes", "elements": buttons}]


def reason_view(answer_id: int, channel: str | None, thread: str | None) -> dict[str, Any]:
    """The optional "what was wrong?" modal; it remembers where the vote was, to thank the user there."""
    return {
        "type": "modal",
        "callback_id": reason_id(answer_id),
        "title": {"type": "plain_text", "text": messages.REASON_TITLE[:24]},
        "submit": {"type": "plain_text", "text": messages.REASON_SUBMIT},
        "close": {"type": "plain_text", "text": messages.REASON_SKIP},
        "private_metadata": json.dumps({"channel": channel, "thread": thread}),
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": messages.REASON_PROMPT},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "multiline": True,
                    "max_length": 2000,
                },
            }
        ],
    }
