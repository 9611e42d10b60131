"""The fake Discord's wire-level pieces: gateway intents, permission bits, message flags and the
channel, interaction and callback types; the records it keeps; and the helpers that build Discord's
responses and errors (``fakes.discord_api`` is the fake itself)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from aiohttp import web

T = TypeVar("T")
Payload = dict[str, Any]

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
HEARTBEAT_INTERVAL_MS = 41_250
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Gateway intents (https://discord.com/developers/docs/events/gateway#list-of-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15

# Which intent a dispatch needs, (in a guild, in a DM); events not listed are always sent.
EVENT_INTENTS: dict[str, tuple[int, int]] = {
    "GUILD_CREATE": (GUILDS, GUILDS),
    "CHANNEL_CREATE": (GUILDS, GUILDS),
    "THREAD_CREATE": (GUILDS, GUILDS),
    "GUILD_MEMBER_ADD": (GUILD_MEMBERS, GUILD_MEMBERS),
    "MESSAGE_CREATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_DELETE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
}

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1  # what Discord reports for administrators and the guild owner
EVERYONE_PERMISSIONS = (
    (1 << 6)  # ADD_REACTIONS
    | (1 << 10)  # VIEW_CHANNEL
    | (1 << 11)  # SEND_MESSAGES
    | (1 << 14)  # EMBED_LINKS
    | (1 << 15)  # ATTACH_FILES
    | (1 << 16)  # READ_MESSAGE_HISTORY
    | (1 << 31)  # USE_APPLICATION_COMMANDS
    | (1 << 35)  # CREATE_PUBLIC_THREADS
    | (1 << 38)  # SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | (1 << 18) | (1 << 34)  # + USE_EXTERNAL_EMOJIS, MANAGE_THREADS

# Message flags and the channel / interaction / callback types the fake deals in.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
GUILD_TEXT, DM, PUBLIC_THREAD, PRIVATE_THREAD = 0, 1, 11, 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)
APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT = 2, 3, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL = 4, 5, 6, 7, 9


class Call(NamedTuple):
    """One REST request the bot made; ``path`` is relative to ``/api/v10`` and percent-decoded."""

    method: str
    path: str
    json: Any
    query: dict[str, str]


@dataclass
class _User:
    id: str
    name: str
    role_ids: list[str]
    bot: bool
    joined_at: str


@dataclass
class _Interaction:
    """What the fake remembers to validate and record the bot's responses to an interaction."""

    id: str
    token: str
    type: int
    user_id: str
    channel_id: str
    created: float  # time.monotonic(), for the response deadline
    message_id: str | None = None  # the message a clicked component is on
    acknowledged: bool = False
    original_message_id: str | None = None
    message_ids: list[str] = field(default_factory=list)  # original response + follow-ups
    responses: list[Payload] = field(default_factory=list)


@dataclass
class _Session:
    """A gateway session: survives its socket, so a client can RESUME and get what it missed."""

    id: str
    intents: int
    ws: web.WebSocketResponse | None
    seq: int = 0
    sent: list[Payload] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _RateLimit:
    method: str
    pattern: str
    times: int
    retry_after: float


@dataclass
class _Upload:
    field_name: str
    filename: str
    content_type: str
    size: int


@dataclass
class _Request:
    params: dict[str, str]
    body: Any
    query: dict[str, str]
    uploads: list[_Upload]


@dataclass
class _Reply:
    """A handler's answer: ``body=None`` means 204, ``events`` are dispatched before the response is sent."""

    status: int = 200
    body: Any = None
    events: list[tuple[str, Payload]] = field(default_factory=list)


Handler = Callable[[_Request], _Reply]


# --------------------------------------------------------------------- module helpers


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _take(rules: list[_RateLimit], method: str, path: str) -> _RateLimit | None:
    """The first rule with uses left that matches the request, one use taken (the caller holds the lock)."""
    rule = next(
        (r for r in rules if r.times > 0 and r.method == method and _match(r.pattern, path) is not None), None
    )
    if rule is not None:
        rule.times -= 1
    return rule


def _match(template: str, path: str) -> dict[str, str] | None:
    """Segment-wise match; ``{name}`` segments capture any value. Returns the captures or None."""
    want, have = template.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(have):
        return None
    params = {}
    for pattern, value in zip(want, have, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            params[pattern[1:-1]] = value
        elif pattern != value:
            return None
    return params


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with ``Content-Type: application/json`` and no charset: discord.py compares the header exactly
    and treats anything else (``web.json_response`` adds ``; charset=utf-8``) as a text body."""
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json", headers=headers
    )


def _bucket_headers(bucket: str) -> dict[str, str]:
    """Headers of a generous, never-exhausted bucket: discord.py learns the bucket but never waits."""
    return {
        "X-RateLimit-Bucket": hashlib.sha256(bucket.encode()).hexdigest()[:32],
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
    }


def _rate_limited(retry_after: float, bucket: str) -> web.Response:
    """A 429 discord.py retries: JSON ``retry_after`` plus ``Via`` (without, it assumes a Cloudflare ban)."""
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    headers = {
        **_bucket_headers(bucket),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Scope": "user",
        "Retry-After": str(max(1, round(retry_after))),
        "Via": "1.1 google",
    }
    return _json_response(429, body, headers)


def _fail(status: int, message: str, code: int, errors: Payload | None = None) -> _Reply:
    """Discord's JSON error: ``message`` and numeric ``code`` (discord.py puts both in HTTPException)."""
    body: Payload = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return _Reply(status=status, body=body)


def _field_error(path: str, code: str, message: str = "This field is required") -> Payload:
    """The nested ``errors`` of Discord's Invalid Form Body (50035) for one field (dotted ``path``)."""
    error: Payload = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        error = {part: error}
    return error


def _message_error(body: Payload, uploads: Sequence[_Upload]) -> _Reply | None:
    """Discord's checks that bite chat bots: empty messages and the content/embed length limits."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if not (
        content or embeds or body.get("components") or uploads or body.get("attachments") or body.get("poll")
    ):
        return _fail(400, "Cannot send an empty message", 50006)
    too_long = "BASE_TYPE_MAX_LENGTH"
    if len(content) > 2000:
        return _fail(
            400,
            "Invalid Form Body",
            50035,
            _field_error("content", too_long, "Must be 2000 or fewer in length."),
        )
    if len(embeds) > 10:
        return _fail(
            400,
            "Invalid Form Body",
            50035,
            _field_error("embeds", too_long, "Must be 10 or fewer in length."),
        )
    for index, embed in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            if len(embed.get(key) or "") > limit:
                message = f"Must be {limit} or fewer in length."
                return _fail(
                    400, "Invalid Form Body", 50035, _field_error(f"embeds.{index}.{key}", too_long, message)
                )
    return None


def _reply_ping(body: Payload, author_id: str, replied_to: Payload | None) -> list[str]:
    """A reply mentions the replied-to author unless ``allowed_mentions.replied_user`` is false."""
    if replied_to is None or replied_to["author"]["id"] == author_id:
        return []
    allowed = body.get("allowed_mentions") or {}
    return [replied_to["author"]["id"]] if allowed.get("replied_user", True) else []


def _role_mentions(content: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"<@&(\d+)>", content)))


def _find_component(components: list[Payload], custom_id: str) -> Payload | None:
    """Depth-first through action rows, containers, sections (``accessory``) and labels (``component``)."""
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        children = list(component.get("components") or [])
        children += [
            component[key] for key in ("accessory", "component") if isinstance(component.get(key), dict)
        ]
        found = _find_component(children, custom_id)
        if found is not None:
            return found
    return None


def _submitted(component: Payload, fields: dict[str, str]) -> Payload:
    """One component of a modal as Discord submits it; consumes the values it uses from ``fields``."""
    kind = component.get("type")
    if kind == 1:  # action row
        return {"type": 1, "components": [_submitted(c, fields) for c in component.get("components", [])]}
    if kind == 18:  # label
        return {
            "type": 18,
            "id": component.get("id"),
            "component": _submitted(component["component"], fields),
        }
    custom_id = component.get("custom_id")
    if custom_id is None:  # text display and other non-inputs
        return {"type": kind, "id": component.get("id")}
    if custom_id not in fields and component.get("required", True):
        raise ValueError(f"required modal input {custom_id!r} missing")
    value = fields.pop(custom_id, None)
    if kind == 4:  # text input
        return {"type": 4, "id": component.get("id"), "custom_id": custom_id, "value": value or ""}
    values = value if isinstance(value, list) else ([] if value is None else [value])
    return {"type": kind, "id": component.get("id"), "custom_id": custom_id, "values": values}


async def _read_body(request: web.Request) -> tuple[Any, list[_Upload]]:
    """JSON, or multipart with ``payload_json`` and ``files[n]`` (how discord.py sends attachments)."""
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        form = await request.post()
        uploads = [
            _Upload(name, value.filename, value.content_type, len(value.file.read()))
            for name, value in form.items()
            if isinstance(value, web.FileField)
        ]
        payload = form.get("payload_json")
        return (json.loads(payload) if isinstance(payload, str) else None), uploads
    text = await request.text()
    return (json.loads(text) if text else None), []
