"""The fake Discord's gateway websocket: IDENTIFY and RESUME, dispatches filtered by intents, and the
events users cause (messages, reactions, commands, button clicks; part of
``fakes.discord_api.FakeDiscord``)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from fakes.discord_wire import (
    APPLICATION_COMMAND,
    EVENT_INTENTS,
    HEARTBEAT_INTERVAL_MS,
    MESSAGE_COMPONENT,
    MESSAGE_CONTENT,
    MODAL_SUBMIT,
    Payload,
    _find_component,
    _Session,
    _submitted,
)


class Gateway:
    """The gateway and the events pushed through it as users; a mixin of ``FakeDiscord``."""

    # ----------------------------------------------------------------- pushing events as users

    def user_message(
        self,
        author_id: str,
        content: str,
        channel_id: str | None = None,
        *,
        mention_bot: bool = False,
        dm: bool = False,
        reply_to: str | None = None,
    ) -> Payload:
        """A user posts a message (MESSAGE_CREATE); returns it. ``channel_id`` may be a thread's id."""
        if mention_bot and f"<@{self.bot_user_id}>" not in content:
            content = f"<@{self.bot_user_id}> {content}"
        body: Payload = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": reply_to}
        with self._lock:
            self._require_user(author_id)
            if dm:
                channel_id = self._dm_channel(author_id)["id"]
            channel_id = channel_id or self.channel_id
            if channel_id not in self._channels:
                raise ValueError(f"unknown channel {channel_id}")
            message = self._new_message(channel_id, author_id, body)
            event = copy.deepcopy(message)
        self._push("MESSAGE_CREATE", event)
        return event

    def react(self, user_id: str, channel_id: str, message_id: str, emoji: str = "👍") -> None:
        """A user adds a (unicode) reaction: MESSAGE_REACTION_ADD."""
        with self._lock:
            self._require_user(user_id)
            event = self._reaction_event(user_id, channel_id, message_id, emoji, add=True)
        self._push("MESSAGE_REACTION_ADD", event)

    def unreact(self, user_id: str, channel_id: str, message_id: str, emoji: str = "👍") -> None:
        """A user removes their reaction: MESSAGE_REACTION_REMOVE."""
        with self._lock:
            self._require_user(user_id)
            event = self._reaction_event(user_id, channel_id, message_id, emoji, add=False)
        self._push("MESSAGE_REACTION_REMOVE", event)

    def slash_command(
        self,
        user_id: str,
        name: str,
        subcommand: str | None = None,
        options: dict[str, Any] | None = None,
        channel_id: str | None = None,
    ) -> str:
        """A user runs ``/name subcommand option:value``; returns the interaction id.

        Like Discord's client, this only offers what the bot registered: the command must have been synced
        (to the guild or globally), ``subcommand`` (``"group sub"`` for groups) and option names must exist
        and required options must be given. Supported option types: string, integer, boolean, number, user
        (a user id), role (a role id).
        """
        with self._lock:
            self._require_user(user_id)
            command = self._find_command(name)
            data: Payload = {"id": command["id"], "name": name, "type": command["type"]}
            if command.get("guild_id"):
                data["guild_id"] = command["guild_id"]
            target, schema = data, command.get("options", [])
            for part in (subcommand or "").split():
                sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
                if sub is None:
                    raise ValueError(f"/{name} has no subcommand {part!r}")
                node: Payload = {"type": sub["type"], "name": part}
                target.setdefault("options", []).append(node)
                target, schema = node, sub.get("options", [])
            if any(o["type"] in (1, 2) for o in schema):
                raise ValueError(f"/{name} needs a (deeper) subcommand than {subcommand!r}")
            target["options"], resolved = self._option_values(schema, options or {})
            if resolved:
                data["resolved"] = resolved
            event, interaction = self._new_interaction(
                APPLICATION_COMMAND, user_id, channel_id or self.channel_id, data
            )
        self._push("INTERACTION_CREATE", event)
        return interaction.id

    def rewrite_button(self, message_id: str, custom_id: str, new_custom_id: str) -> None:
        """Give a button on a stored message another custom id, as a message posted by another
        deployment (another database) or crafted by hand can carry ids this bot never issued."""
        with self._lock:
            button = _find_component(self._messages[message_id].get("components", []), custom_id)
            if button is None:
                raise ValueError(f"message {message_id} has no button {custom_id!r}")
            button["custom_id"] = new_custom_id

    def click_button(self, user_id: str, message: Payload | str, custom_id: str) -> str:
        """A user clicks a button on a message (dict or id); returns the interaction id.

        Raises ValueError if the message has no enabled button with that ``custom_id``, as a user could not
        click it either.
        """
        message_id = message if isinstance(message, str) else message["id"]
        with self._lock:
            self._require_user(user_id)
            stored = self._messages.get(message_id)
            if stored is None:
                raise ValueError(f"unknown message {message_id}")
            button = _find_component(stored.get("components", []), custom_id)
            if button is None or button.get("type") != 2 or button.get("disabled"):
                raise ValueError(f"message {message_id} has no enabled button {custom_id!r}")
            data = {"custom_id": custom_id, "component_type": 2}
            event, interaction = self._new_interaction(
                MESSAGE_COMPONENT, user_id, stored["channel_id"], data, message=stored
            )
        self._push("INTERACTION_CREATE", event)
        return interaction.id

    def submit_modal(self, user_id: str, custom_id: str, fields: dict[str, str]) -> str:
        """A user submits a modal the bot showed them; ``fields`` maps input custom ids to values.

        The submission mirrors the modal's layout (action rows or labels). Raises ValueError if the bot never
        showed this user that modal, a field is unknown, or a required one is missing.
        """
        with self._lock:
            shown = self._shown_modal(user_id, custom_id)
            if shown is None:
                raise ValueError(f"the bot never showed user {user_id} a modal {custom_id!r}")
            opener, modal = shown
            remaining = dict(fields)
            components = [_submitted(c, remaining) for c in modal.get("components", [])]
            if remaining:
                raise ValueError(f"modal {custom_id!r} has no inputs {sorted(remaining)}")
            data = {"custom_id": custom_id, "components": components}
            message = self._messages.get(opener.message_id or "")
            event, interaction = self._new_interaction(
                MODAL_SUBMIT, user_id, opener.channel_id, data, message=message
            )
        self._push("INTERACTION_CREATE", event)
        return interaction.id

    def send_raw(self, frame: Payload) -> None:
        """Send a frame as-is but for ``op`` (default 0) and ``s`` (numbered like any dispatch), to all bots.

        For unknown or malformed events. Note discord.py ignores unknown event names, but a KeyError in one of
        its parsers propagates out of ``Client.connect()`` and ends the bot.
        """
        self._push_frame(frame)

    def disconnect(self, *, resumable: bool = True) -> None:
        """Close every gateway socket from Discord's side (close code 4000, or 4009 = session gone).

        discord.py reconnects by itself: it RESUMEs (and the fake replays what it missed), or, when the
        session is gone, gets INVALID_SESSION and IDENTIFYs again.
        """

        async def close() -> None:
            for session in list(self._sessions.values()):
                ws, session.ws = session.ws, None
                if not resumable:
                    del self._sessions[session.id]
                if ws is not None:
                    await ws.close(code=4000 if resumable else 4009, message=b"fake disconnect")
            self._update_live()

        self._run(close(), 5)

    # ----------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """HELLO, then heartbeats are acked, IDENTIFY/RESUME start or continue a session, op 8 gets members.

        Frames are plain JSON text even though discord.py asks for ``compress=zlib-stream``: it accepts both.
        """
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        session: _Session | None = None
        await ws.send_json(
            {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None}
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, data = frame.get("op"), frame.get("d")
                if op == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    session = await self._identify(ws, data)
                elif op == 6:
                    session = await self._resume(ws, data)
                elif op == 8 and session is not None:
                    await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", self._members_chunk(data))
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                if ws.close_code in (1000, 1001):  # a client's clean close ends its session
                    self._sessions.pop(session.id, None)
            self._update_live()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: Payload) -> _Session | None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        session = _Session(id=uuid.uuid4().hex, intents=int(data.get("intents", 0)), ws=ws)
        self._sessions[session.id] = session
        with self._lock:
            self.gateway_connections += 1
            ready = {
                "v": 10,
                "user": {**self._user(self.bot_user_id), "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": self.guild_id, "unavailable": True}],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": self.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
            }
            if "shard" in data:
                ready["shard"] = data["shard"]
            guild = self._visible_to(session.intents, "GUILD_CREATE", self._guild_create(session.intents))
        await self._send_dispatch(session, "READY", ready)
        if guild is not None:
            await self._send_dispatch(session, "GUILD_CREATE", guild)
        self._update_live()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: Payload) -> _Session | None:
        session = self._sessions.get(data.get("session_id") or "")
        if session is None or data.get("token") != self.token:
            await ws.send_json({"op": 9, "d": False, "s": None, "t": None})
            return None
        with self._lock:
            self.gateway_connections += 1
            self.resumes += 1
        async with session.lock:
            old, session.ws = session.ws, ws
            for frame in session.sent:
                if frame["s"] > (data.get("seq") or 0):
                    await ws.send_str(json.dumps(frame))
        if old is not None:
            await old.close(code=4000)
        await self._send_dispatch(session, "RESUMED", {})
        self._update_live()
        return session

    def _update_live(self) -> None:
        assert self._live is not None
        if any(s.ws is not None and not s.ws.closed for s in self._sessions.values()):
            self._live.set()
        else:
            self._live.clear()

    async def _dispatch(self, event: str, payload: Payload) -> None:
        """Send an event to every session, connected or awaiting a RESUME (which replays it)."""
        for session in list(self._sessions.values()):
            visible = self._visible_to(session.intents, event, payload)
            if visible is not None:
                await self._send_dispatch(session, event, visible)

    async def _send_dispatch(self, session: _Session, event: str, payload: Payload) -> None:
        await self._send_frame(session, {"op": 0, "t": event, "d": payload})

    async def _send_frame(self, session: _Session, frame: Payload) -> None:
        """Number dispatches (op 0) per session and keep them for a RESUME; send if connected."""
        async with session.lock:
            if frame.get("op") == 0:
                session.seq += 1
                frame = {**frame, "s": session.seq}
                session.sent.append(frame)
            if session.ws is not None and not session.ws.closed:
                with contextlib.suppress(ConnectionResetError):  # closing; a RESUME replays the frame
                    await session.ws.send_str(json.dumps(frame))

    def _visible_to(self, intents: int, event: str, payload: Payload) -> Payload | None:
        """What a session with these intents gets: nothing, or (without MESSAGE_CONTENT) emptied messages."""
        needed = EVENT_INTENTS.get(event)
        if needed and not intents & needed[0 if "guild_id" in payload else 1]:
            return None
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and "guild_id" in payload
            and not intents & MESSAGE_CONTENT
            and payload["author"]["id"] != self.bot_user_id
            and all(m["id"] != self.bot_user_id for m in payload.get("mentions", []))
        ):
            return {**payload, "content": "", "embeds": [], "attachments": [], "components": []}
        return payload

    def _push(self, event: str, payload: Payload, timeout: float = 5) -> None:
        """Dispatch a user-caused event once a client is connected (raises TimeoutError otherwise)."""

        async def push() -> None:
            await self._wait_live(timeout)
            await self._dispatch(event, payload)

        self._run(push(), timeout + 2)

    def _push_frame(self, frame: Payload, timeout: float = 5) -> None:
        async def push() -> None:
            await self._wait_live(timeout)
            for session in list(self._sessions.values()):
                await self._send_frame(session, {"op": 0, **frame})

        self._run(push(), timeout + 2)

    async def _wait_live(self, timeout: float) -> None:
        assert self._live is not None
        try:
            await asyncio.wait_for(self._live.wait(), timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"no bot connected to the fake gateway within {timeout}s") from exc

    def _broadcast_if_connected(self, event: str, payload: Payload) -> None:
        """State changes made by the test reach connected bots; later ones see them in GUILD_CREATE."""
        if self._loop is not None:
            self._run(self._dispatch(event, payload), 5)

    def _members_chunk(self, request: Payload) -> Payload:
        """GUILD_MEMBERS_CHUNK for op 8 (``guild.chunk()``, member queries), all in one chunk."""
        query = str(request.get("query") or "").lower()
        user_ids = {str(u) for u in request.get("user_ids") or []}
        limit = int(request.get("limit") or 0)
        with self._lock:
            members = [
                self._member(uid)
                for uid, user in self._users.items()
                if (not user_ids or uid in user_ids) and user.name.lower().startswith(query)
            ]
            not_found = sorted(user_ids - set(self._users))
        return {
            "guild_id": self.guild_id,
            "members": members[:limit] if limit else members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": not_found,
            "nonce": request.get("nonce"),
        }
