"""The fake Discord's application commands and interactions: what a user may invoke, the
interaction payloads, and the bot's responses to them (callbacks, follow-ups, webhook messages; part
of ``fakes.discord_api.FakeDiscord``)."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from fakes.discord_wire import (
    ATTACHMENT_SIZE_LIMIT,
    BOT_PERMISSIONS,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    DM,
    EPHEMERAL,
    LOADING,
    MODAL,
    UPDATE_MESSAGE,
    Payload,
    _fail,
    _Interaction,
    _message_error,
    _Reply,
    _Request,
)


class Interactions:
    """Commands, interactions and their responses; a mixin of ``FakeDiscord``."""

    # ----------------------------------------------------------------- interaction responses

    def _interaction_callback(self, request: _Request) -> _Reply:
        interaction = self._interactions.get(request.params["interaction_id"])
        if interaction is None or interaction.token != request.params["token"]:
            return _fail(404, "Unknown interaction", 10062)
        if interaction.acknowledged:
            return _fail(400, "Interaction has already been acknowledged.", 40060)
        if time.monotonic() - interaction.created > self.response_deadline:
            return _fail(404, "Unknown interaction", 10062)  # Discord's answer to a response after 3 s
        body = request.body or {}
        kind, data = body.get("type"), body.get("data") or {}
        target = self._messages.get(interaction.message_id or "")
        if kind == CHANNEL_MESSAGE or (kind == UPDATE_MESSAGE and target is not None):
            error = _message_error({**(target or {}), **data}, request.uploads)
            if error is not None:
                return error
        interaction.acknowledged = True
        interaction.responses.append({"kind": "callback", "type": kind, "data": data, "message_id": None})
        events: list[tuple[str, Payload]] = []
        resource: Payload | None = None
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0) & EPHEMERAL
            if kind == DEFERRED_CHANNEL_MESSAGE:
                data, flags = {}, flags | LOADING
            message = self._new_message(
                interaction.channel_id,
                self.bot_user_id,
                {**data, "flags": flags},
                request.uploads,
                interaction,
            )
            interaction.original_message_id = message["id"]
            interaction.message_ids.append(message["id"])
            resource = {"type": kind, "message": copy.deepcopy(message)}
            if not flags & EPHEMERAL:
                events.append(("MESSAGE_CREATE", copy.deepcopy(message)))
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and target is not None:
            interaction.original_message_id = target["id"]
            if kind == UPDATE_MESSAGE:
                reply = self._edited(target, data, request.uploads)
                events = reply.events
                resource = {"type": kind, "message": reply.body}
        original = self._messages.get(interaction.original_message_id or "")
        answer: Payload = {
            "interaction": {
                "id": interaction.id,
                "type": interaction.type,
                "response_message_id": interaction.original_message_id,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(original and original["flags"] & EPHEMERAL),
            }
        }
        if resource is not None:
            answer["resource"] = resource
        with_response = request.query.get("with_response", "").lower() in ("1", "true")
        return _Reply(body=answer if with_response else None, events=events)

    def _webhook_interaction(self, params: dict[str, str]) -> _Interaction | None:
        """The interaction behind an interaction webhook (``/webhooks/{application_id}/{token}``)."""
        if params["application_id"] != self.application_id:
            return None
        return self._interaction_by_token.get(params["token"])

    def _webhook_message(self, params: dict[str, str]) -> tuple[_Interaction, Payload] | _Reply:
        interaction = self._webhook_interaction(params)
        if interaction is None:
            return _fail(404, "Unknown Webhook", 10015)
        wanted = params["message_id"]
        message_id = interaction.original_message_id if wanted == "@original" else wanted
        ours = message_id in interaction.message_ids or message_id == interaction.original_message_id
        if message_id is None or not ours or message_id not in self._messages:
            return _fail(404, "Unknown Message", 10008)
        return interaction, self._messages[message_id]

    def _followup(self, request: _Request) -> _Reply:
        """A follow-up message; after a deferred (``thinking``) response the first one fills that in."""
        interaction = self._webhook_interaction(request.params)
        if interaction is None or not interaction.acknowledged:
            return _fail(404, "Unknown Webhook", 10015)
        body = request.body or {}
        error = _message_error(body, request.uploads)
        if error is not None:
            return error
        original = self._messages.get(interaction.original_message_id or "")
        if original is not None and original["flags"] & LOADING:
            kept_flags = {key: value for key, value in body.items() if key != "flags"}
            reply = self._edited(original, kept_flags, request.uploads)
            message_id = original["id"]
        else:
            flags = int(body.get("flags") or 0)
            message = self._new_message(
                interaction.channel_id,
                self.bot_user_id,
                {**body, "flags": flags},
                request.uploads,
                interaction,
            )
            interaction.message_ids.append(message["id"])
            message_id = message["id"]
            events = [] if flags & EPHEMERAL else [("MESSAGE_CREATE", copy.deepcopy(message))]
            reply = _Reply(body=copy.deepcopy(message), events=events)
        interaction.responses.append(
            {"kind": "followup", "type": None, "data": body, "message_id": message_id}
        )
        if request.query.get("wait", "").lower() not in ("1", "true"):
            reply.body = None
        return reply

    def _get_webhook_message(self, request: _Request) -> _Reply:
        found = self._webhook_message(request.params)
        return found if isinstance(found, _Reply) else _Reply(body=copy.deepcopy(found[1]))

    def _edit_webhook_message(self, request: _Request) -> _Reply:
        found = self._webhook_message(request.params)
        if isinstance(found, _Reply):
            return found
        interaction, message = found
        data = request.body or {}
        reply = self._edited(message, data, request.uploads)
        if reply.status < 400:
            edit = {"kind": "edit", "type": None, "data": data, "message_id": request.params["message_id"]}
            interaction.responses.append(edit)
        return reply

    def _delete_webhook_message(self, request: _Request) -> _Reply:
        found = self._webhook_message(request.params)
        if isinstance(found, _Reply):
            return found
        interaction, message = found
        message_id = request.params["message_id"]
        interaction.responses.append({"kind": "delete", "type": None, "data": None, "message_id": message_id})
        return self._deleted(message)

    def _find_command(self, name: str) -> Payload:
        for scope in (self.guild_id, None):
            for command in self._commands.get(scope, []):
                if command["name"] == name and command["type"] == 1:
                    return command
        raise LookupError(f"/{name} is not registered; the bot must sync its command tree first")

    def _option_values(self, schema: list[Payload], given: dict[str, Any]) -> tuple[list[Payload], Payload]:
        """Options as Discord sends them, typed from the registered schema, plus ``resolved`` users/roles."""
        by_name = {option["name"]: option for option in schema}
        unknown = sorted(set(given) - set(by_name))
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in given]
        if unknown or missing:
            raise ValueError(
                f"options: unknown {unknown}, missing required {missing}; schema has {sorted(by_name)}"
            )
        values: list[Payload] = []
        resolved: Payload = {}
        for name, value in given.items():
            kind = by_name[name]["type"]
            if kind == 6:  # USER
                value = str(value)
                self._require_user(value)
                resolved.setdefault("users", {})[value] = self._user(value)
                member = {
                    **self._member(value, with_user=False),
                    "permissions": str(self._permissions(value)),
                }
                resolved.setdefault("members", {})[value] = member
            elif kind == 8:  # ROLE
                value = str(value)
                role = next((r for r in self._roles if r["id"] == value), None)
                if role is None:
                    raise ValueError(f"unknown role id {value}")
                resolved.setdefault("roles", {})[value] = role
            elif kind not in (3, 4, 5, 10):  # STRING, INTEGER, BOOLEAN, NUMBER
                raise NotImplementedError(f"option type {kind} ({name!r}) is not faked")
            values.append({"type": kind, "name": name, "value": value})
        return values, copy.deepcopy(resolved)

    def _new_interaction(
        self, kind: int, user_id: str, channel_id: str, data: Payload, message: Payload | None = None
    ) -> tuple[Payload, _Interaction]:
        """INTERACTION_CREATE with every field discord.py 2.7 reads, and the fake's record of it."""
        channel = self._channels.get(channel_id)
        if channel is None:
            raise ValueError(f"unknown channel {channel_id}")
        interaction = _Interaction(
            id=self._snowflake(),
            token=secrets.token_urlsafe(48),
            type=kind,
            user_id=user_id,
            channel_id=channel_id,
            created=time.monotonic(),
            message_id=message["id"] if message else None,
        )
        self._interactions[interaction.id] = interaction
        self._interaction_by_token[interaction.token] = interaction
        in_guild = channel["type"] != DM
        event: Payload = {
            "id": interaction.id,
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "token": interaction.token,
            "version": 1,
            "channel_id": channel_id,
            "channel": channel,
            "locale": "en-US",
            "app_permissions": str(BOT_PERMISSIONS),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": self.guild_id} if in_guild else {"1": user_id},
            "context": 0 if in_guild else 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if in_guild:
            event["guild_id"] = self.guild_id
            event["guild"] = {"id": self.guild_id, "locale": "en-US", "features": []}
            event["guild_locale"] = "en-US"
            event["member"] = {**self._member(user_id), "permissions": str(self._permissions(user_id))}
        else:
            event["user"] = self._user(user_id)
        if message is not None:
            event["message"] = message
        return copy.deepcopy(event), interaction

    def _shown_modal(self, user_id: str, custom_id: str) -> tuple[_Interaction, Payload] | None:
        """The latest modal with ``custom_id`` the bot showed ``user_id``, and the interaction it answered."""
        for interaction in reversed(self._interactions.values()):
            if interaction.user_id != user_id:
                continue
            for response in interaction.responses:
                if response["type"] == MODAL and response["data"].get("custom_id") == custom_id:
                    return interaction, response["data"]
        return None
