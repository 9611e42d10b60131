"""The fake Discord's REST API (v10): the route table, rate limits and dropped connections, and each
route's handler (part of ``fakes.discord_api.FakeDiscord``)."""

from __future__ import annotations

import copy
from urllib.parse import unquote

from aiohttp import web

from fakes.discord_wire import (
    API_PREFIX,
    EPHEMERAL,
    GUILD_TEXT,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Call,
    Handler,
    Payload,
    _bucket_headers,
    _fail,
    _field_error,
    _json_response,
    _match,
    _message_error,
    _now,
    _rate_limited,
    _read_body,
    _Reply,
    _Request,
    _take,
)


class RestRoutes:
    """The REST routes and their handlers; a mixin of ``FakeDiscord``."""

    # ----------------------------------------------------------------- REST

    def _route_table(self) -> list[tuple[str, str, Handler]]:
        """Routes in match order (literal segments such as ``@me`` before placeholders)."""
        channel = "/channels/{channel_id}"
        message = channel + "/messages/{message_id}"
        own_reaction = message + "/reactions/{emoji}/@me"
        webhook = "/webhooks/{application_id}/{token}"
        return [
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{application_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/commands", self._put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("GET", channel, self._get_channel),
            ("GET", channel + "/messages", self._get_history),
            ("POST", channel + "/messages", self._post_message),
            ("POST", channel + "/typing", self._typing),
            ("POST", channel + "/threads", self._post_thread),
            ("GET", message, self._get_message),
            ("PATCH", message, self._edit_message),
            ("DELETE", message, self._delete_message),
            ("POST", message + "/threads", self._post_thread),
            ("PUT", own_reaction, self._add_own_reaction),
            ("DELETE", own_reaction, self._remove_own_reaction),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback),
            ("POST", webhook, self._followup),
            ("GET", webhook + "/messages/{message_id}", self._get_webhook_message),
            ("PATCH", webhook + "/messages/{message_id}", self._edit_webhook_message),
            ("DELETE", webhook + "/messages/{message_id}", self._delete_webhook_message),
        ]

    async def _rest(self, request: web.Request) -> web.Response:
        raw_path = request.raw_path.split("?", 1)[0].removeprefix(API_PREFIX)
        path = "/" + "/".join(unquote(segment) for segment in raw_path.strip("/").split("/"))
        try:
            body, uploads = await _read_body(request)
        except ValueError:
            return _json_response(400, {"message": "The request body contains invalid JSON.", "code": 50109})
        with self._lock:
            drop = _take(self._drops, request.method, path)
        if drop is not None and request.transport is not None:
            request.transport.close()  # the client reads the end of the connection: ServerDisconnectedError
            return web.Response(status=204)
        with self._lock:
            self._calls.append(Call(request.method, path, body, dict(request.query)))
            limit = _take(self._rate_limits, request.method, path)
        route = next(
            (
                (template, handler)
                for method, template, handler in self._routes
                if method == request.method and _match(template, path) is not None
            ),
            None,
        )
        if route is None:
            return _json_response(404, {"message": "404: Not Found", "code": 0})
        template, handler = route
        params = _match(template, path) or {}
        bucket = f"{request.method} {template}"
        if limit is not None:
            return _rate_limited(limit.retry_after, bucket)
        # Interaction callbacks and webhooks authenticate by the token in the URL, the rest by the bot token.
        needs_auth = not template.startswith(("/interactions/", "/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json_response(401, {"message": "401: Unauthorized", "code": 0})
        try:
            with self._lock:
                reply = handler(_Request(params, body, dict(request.query), uploads))
        except Exception as exc:  # a 500 would make discord.py retry for ~25 s; fail fast and say why
            message = f"fake Discord could not handle {request.method} {path}: {exc!r}"
            return _json_response(400, {"message": message, "code": 50035})
        for event, payload in reply.events:
            await self._dispatch(event, payload)
        if reply.body is None:
            return web.Response(status=204, headers=_bucket_headers(bucket))
        return _json_response(reply.status, reply.body, _bucket_headers(bucket))

    def _get_me(self, request: _Request) -> _Reply:
        me = self._user(self.bot_user_id)
        return _Reply(body={**me, "verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"})

    def _get_user(self, request: _Request) -> _Reply:
        if request.params["user_id"] not in self._users:
            return _fail(404, "Unknown User", 10013)
        return _Reply(body=self._user(request.params["user_id"]))

    def _get_application(self, request: _Request) -> _Reply:
        return _Reply(
            body={
                "id": self.application_id,
                "name": self._users[self.bot_user_id].name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": self._user(self.owner_id),
                "team": None,
                "bot": self._user(self.bot_user_id),
                "interactions_endpoint_url": None,  # if set, interactions would not come over the gateway
                "redirect_uris": [],
                "approximate_guild_count": 1,
            }
        )

    def _get_gateway_bot(self, request: _Request) -> _Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _Reply(body={"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _open_dm(self, request: _Request) -> _Reply:
        recipient = str((request.body or {}).get("recipient_id", ""))
        if recipient not in self._users:
            return _fail(404, "Unknown User", 10013)
        return _Reply(body=copy.deepcopy(self._dm_channel(recipient)))

    def _get_commands(self, request: _Request) -> _Reply:
        error = self._check_command_scope(request.params)
        return error or _Reply(body=copy.deepcopy(self._commands.get(request.params.get("guild_id"), [])))

    def _put_commands(self, request: _Request) -> _Reply:
        """Bulk overwrite; as on Discord, a command keeps its id if one with its name and type existed."""
        error = self._check_command_scope(request.params)
        if error is not None:
            return error
        guild_id = request.params.get("guild_id")
        existing = {(c["name"], c["type"]): c["id"] for c in self._commands.get(guild_id, [])}
        stored = []
        for command in request.body or []:
            kind = command.get("type", 1)
            entry = {
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                **command,
                "id": existing.get((command["name"], kind)) or self._snowflake(),
                "application_id": self.application_id,
                "version": self._snowflake(),
                "type": kind,
            }
            if guild_id is not None:
                entry["guild_id"] = guild_id
            stored.append(entry)
        self._commands[guild_id] = stored
        return _Reply(body=copy.deepcopy(stored))

    def _check_command_scope(self, params: dict[str, str]) -> _Reply | None:
        if (
            params["application_id"] != self.application_id
            or params.get("guild_id", self.guild_id) != self.guild_id
        ):
            return _fail(403, "Missing Access", 50001)
        return None

    def _get_member(self, request: _Request) -> _Reply:
        if request.params["guild_id"] != self.guild_id:
            return _fail(404, "Unknown Guild", 10004)
        if request.params["user_id"] not in self._users:
            return _fail(404, "Unknown Member", 10007)
        return _Reply(body=self._member(request.params["user_id"]))

    def _get_channel(self, request: _Request) -> _Reply:
        channel = self._channels.get(request.params["channel_id"])
        return (
            _fail(404, "Unknown Channel", 10003) if channel is None else _Reply(body=copy.deepcopy(channel))
        )

    def _get_history(self, request: _Request) -> _Reply:
        """Newest first, like Discord; ``before``/``after`` are message ids, ``limit`` at most 100."""
        channel_id = request.params["channel_id"]
        if channel_id not in self._channels:
            return _fail(404, "Unknown Channel", 10003)
        limit = min(int(request.query.get("limit", 50)), 100)
        visible = [
            m for m in self._messages.values() if m["channel_id"] == channel_id and not m["flags"] & EPHEMERAL
        ]
        if "after" in request.query:
            picked = [m for m in visible if int(m["id"]) > int(request.query["after"])][:limit]
        else:
            before = int(request.query.get("before", 1 << 64))
            picked = [m for m in visible if int(m["id"]) < before][-limit:]
        return _Reply(body=copy.deepcopy(picked[::-1]))

    def _post_message(self, request: _Request) -> _Reply:
        channel_id = request.params["channel_id"]
        if channel_id not in self._channels:
            return _fail(404, "Unknown Channel", 10003)
        body = request.body or {}
        error = _message_error(body, request.uploads)
        if error is not None:
            return error
        message = self._new_message(channel_id, self.bot_user_id, body, request.uploads)
        return _Reply(body=copy.deepcopy(message), events=[("MESSAGE_CREATE", copy.deepcopy(message))])

    def _typing(self, request: _Request) -> _Reply:
        if request.params["channel_id"] not in self._channels:
            return _fail(404, "Unknown Channel", 10003)
        return _Reply(status=204)

    def _get_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request.params)
        return (
            _fail(404, "Unknown Message", 10008) if message is None else _Reply(body=copy.deepcopy(message))
        )

    def _edit_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request.params)
        if message is None:
            return _fail(404, "Unknown Message", 10008)
        if message["author"]["id"] != self.bot_user_id:
            return _fail(403, "Cannot edit a message authored by another user", 50005)
        return self._edited(message, request.body or {}, request.uploads)

    def _delete_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request.params)
        if message is None:
            return _fail(404, "Unknown Message", 10008)
        if message["author"]["id"] != self.bot_user_id:
            return _fail(403, "Missing Permissions", 50013)  # the bot's role has no MANAGE_MESSAGES
        return self._deleted(message)

    def _post_thread(self, request: _Request) -> _Reply:
        """Start a thread, from a message (the thread gets the message's id, as on Discord) or without one."""
        parent = self._channels.get(request.params["channel_id"])
        if parent is None:
            return _fail(404, "Unknown Channel", 10003)
        if parent["type"] != GUILD_TEXT:
            return _fail(400, "Cannot execute action on this channel type", 50024)
        body = request.body or {}
        if not body.get("name"):
            return _fail(400, "Invalid Form Body", 50035, _field_error("name", "BASE_TYPE_REQUIRED"))
        starter = None
        if "message_id" in request.params:
            starter = self._channel_message(request.params)
            if starter is None:
                return _fail(404, "Unknown Message", 10008)
            if starter["id"] in self._channels:
                return _fail(400, "A thread has already been created for this message", 160004)
        thread_id = starter["id"] if starter else self._snowflake()
        now = _now()
        thread: Payload = {
            "id": thread_id,
            "type": PUBLIC_THREAD if starter else int(body.get("type") or PRIVATE_THREAD),
            "guild_id": self.guild_id,
            "parent_id": parent["id"],
            "owner_id": self.bot_user_id,
            "name": body["name"],
            "last_message_id": None,
            "message_count": 0,
            "total_message_sent": 0,
            "member_count": 1,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 4320,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
                "invitable": body.get("invitable", True),
            },
            "member": {"id": thread_id, "user_id": self.bot_user_id, "join_timestamp": now, "flags": 0},
        }
        self._channels[thread_id] = thread
        if starter is not None:
            starter["thread"] = copy.deepcopy(thread)
        return _Reply(
            status=201,
            body=copy.deepcopy(thread),
            events=[("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})],
        )

    def _add_own_reaction(self, request: _Request) -> _Reply:
        return self._own_reaction(request, add=True)

    def _remove_own_reaction(self, request: _Request) -> _Reply:
        return self._own_reaction(request, add=False)

    def _own_reaction(self, request: _Request, *, add: bool) -> _Reply:
        if self._channel_message(request.params) is None:
            return _fail(404, "Unknown Message", 10008)
        p = request.params
        event = self._reaction_event(self.bot_user_id, p["channel_id"], p["message_id"], p["emoji"], add=add)
        return _Reply(
            status=204, events=[("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", event)]
        )
