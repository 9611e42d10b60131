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
from bots.custom_ids import escalate_id, reason_id, vote_id
from bots.formatting import for_chat, split_text
from bots.replies import Reply, Source

SECTION_CHARS = 3000  # Slack's limit on a section block's text
MESSAGE_CHARS = 39_000  # a message's text (its notification fallback) is cut at 40k
MESSAGE_BLOCKS = 45  # of Slack's 50 per message, leaving room for the sources and the buttons
REASON_BLOCK = REASON_ACTION = "reason"
_LINK = re.compile(r"\[(?P<title>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(?P<text>.+?)(?<=\S)\*\*")
_SUBTEAM = re.compile(r"^S[A-Z0-9]+$")
Blocks = list[dict[str, Any]]


@dataclass(frozen=True)
class SlackEscalation:
    """Who "Ask a person" calls (``SUPPORTLOOP_SLACK_ESCALATE``): a user group, mentioned in the user's
    thread (``mention``), or a channel the team watches, where the request is posted (``channel``)."""

    mention: str | None = None
    channel: str | None = None

    @classmethod
    def parse(cls, setting: str) -> SlackEscalation:
        """``<!subteam^S123>`` (as Slack writes it) or ``S123`` (a group's id) or ``C123`` (a channel)."""
        if setting.startswith("<!subteam^"):
            return cls(mention=setting)
        if _SUBTEAM.match(setting):
            return cls(mention=f"<!subteam^{setting}>")
        return cls(channel=setting)


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
            blocks += _sources_block(sources) + (_vote_block(reply) if reply.votable else [])
        rendered.append(SlackMessage("\n".join(group), blocks))
    return rendered


def _sources_block(sources: tuple[Source, ...]) -> list[dict[str, Any]]:
    if not sources:
        return []
    links = " · ".join(f"<{escape(s.url)}|{escape(s.title)}>" for s in sources)
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{messages.SOURCES}:* {links}"}]}]


def _vote_block(reply: Reply) -> list[dict[str, Any]]:
    """👍/👎 under an answer, and "Ask a person" where the service offers one."""
    buttons = []
    if reply.answer_id is not None:
        buttons = [_button(vote_id(reply.answer_id, vote), emoji) for vote, emoji in ((1, "👍"), (-1, "👎"))]
    return [{"type": "actions", "block_id": "supportloop_votes", "elements": buttons + _escalate(reply)}]


def private_blocks(reply: Reply) -> list[dict[str, Any]] | None:
    """Blocks for a private note that offers "Ask a person" (the thanks for a 👎); None for plain text."""
    if reply.escalation is None:
        return None
    text = {"type": "section", "text": {"type": "mrkdwn", "text": to_mrkdwn(reply.text)}}
    return [text, {"type": "actions", "block_id": "supportloop_person", "elements": _escalate(reply)}]


def _escalate(reply: Reply) -> list[dict[str, Any]]:
    return [] if reply.escalation is None else [_button(escalate_id(reply.escalation), messages.ASK_PERSON)]


def _button(action_id: str, label: str) -> dict[str, Any]:
    text = {"type": "plain_text", "text": label, "emoji": True}
    return {"type": "button", "action_id": action_id, "value": action_id, "text": text}


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
