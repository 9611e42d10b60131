"""The fake Discord's guild state and the payloads built from it, as Discord shapes them (the
methods hold ``_lock``; part of ``fakes.discord_api.FakeDiscord``)."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Sequence

from fakes.discord_wire import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    APPLICATION_COMMAND,
    DISCORD_EPOCH_MS,
    DM,
    EPHEMERAL,
    EVERYONE_PERMISSIONS,
    GUILD_PRESENCES,
    GUILD_TEXT,
    LOADING,
    THREAD_TYPES,
    Payload,
    _Interaction,
    _message_error,
    _now,
    _Reply,
    _reply_ping,
    _role_mentions,
    _Upload,
    _User,
)


class GuildState:
    """Users, roles, channels and messages, and their payloads; a mixin of ``FakeDiscord``."""

    # ----------------------------------------------------------------- state and payloads (hold _lock)

    def _snowflake(self) -> str:
        """Increasing ids that encode the current time, so discord.py's ``created_at`` is plausible."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((millis << 22) | (next(self._counter) % (1 << 22)))

    def _add_role(self, name: str, permissions: int, *, managed_by: str | None = None) -> str:
        role_id = self._snowflake()
        role = self._role(role_id, name, permissions, position=len(self._roles))
        if managed_by is not None:
            role.update(managed=True, tags={"bot_id": managed_by})
        self._roles.append(role)
        return role_id

    @staticmethod
    def _role(role_id: str, name: str, permissions: int, *, position: int) -> Payload:
        return {
            "id": role_id,
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _add_member(self, user_id: str, name: str, role_ids: list[str], *, bot: bool = False) -> None:
        self._users[str(user_id)] = _User(str(user_id), name, role_ids, bot, _now())

    def _require_user(self, user_id: str) -> None:
        if user_id not in self._users:
            raise ValueError(f"unknown user {user_id}: add_user() first")

    def _text_channel(self, channel_id: str, name: str, *, position: int) -> Payload:
        return {
            "id": channel_id,
            "type": GUILD_TEXT,
            "guild_id": self.guild_id,
            "name": name,
            "position": position,
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "permission_overwrites": [],
            "flags": 0,
            "default_auto_archive_duration": 4320,
        }

    def _dm_channel(self, user_id: str) -> Payload:
        if user_id not in self._dm_channels:
            channel_id = self._snowflake()
            self._dm_channels[user_id] = channel_id
            self._channels[channel_id] = {
                "id": channel_id,
                "type": DM,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self._user(user_id)],
            }
        return self._channels[self._dm_channels[user_id]]

    def _user(self, user_id: str) -> Payload:
        user = self._users[user_id]
        return {
            "id": user.id,
            "username": user.name,
            "discriminator": "0",
            "global_name": None if user.bot else user.name,
            "avatar": None,
            "public_flags": 0,
            "bot": user.bot,
        }

    def _member(self, user_id: str, *, with_user: bool = True) -> Payload:
        """A guild member object; messages carry it without ``user``, interactions add ``permissions``."""
        user = self._users[user_id]
        member: Payload = {
            "roles": list(user.role_ids),
            "joined_at": user.joined_at,
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = self._user(user_id)
        return member

    def _permissions(self, user_id: str) -> int:
        """Guild-level permissions from roles; administrators and the owner get everything, as on Discord."""
        allowed = EVERYONE_PERMISSIONS
        role_ids = set(self._users[user_id].role_ids)
        for role in self._roles:
            if role["id"] in role_ids:
                allowed |= int(role["permissions"])
        return ALL_PERMISSIONS if allowed & ADMINISTRATOR or user_id == self.owner_id else allowed

    def _guild_create(self, intents: int) -> Payload:
        """GUILD_CREATE; without GUILD_PRESENCES Discord lists only the bot as member (the rest: op 8)."""
        member_ids = list(self._users) if intents & GUILD_PRESENCES else [self.bot_user_id]
        channels = [c for c in self._channels.values() if c["type"] == GUILD_TEXT]
        threads = [
            c
            for c in self._channels.values()
            if c["type"] in THREAD_TYPES and not c["thread_metadata"]["archived"]
        ]
        return copy.deepcopy(
            {
                "id": self.guild_id,
                "name": "SupportLoop Test",
                "icon": None,
                "splash": None,
                "discovery_splash": None,
                "banner": None,
                "description": None,
                "owner_id": self.owner_id,
                "afk_channel_id": None,
                "afk_timeout": 300,
                "verification_level": 0,
                "default_message_notifications": 0,
                "explicit_content_filter": 0,
                "mfa_level": 0,
                "nsfw_level": 0,
                "premium_tier": 0,
                "premium_subscription_count": 0,
                "premium_progress_bar_enabled": False,
                "preferred_locale": "en-US",
                "system_channel_id": self.channel_id,
                "system_channel_flags": 0,
                "rules_channel_id": None,
                "public_updates_channel_id": None,
                "safety_alerts_channel_id": None,
                "vanity_url_code": None,
                "features": [],
                "roles": self._roles,
                "emojis": [],
                "stickers": [],
                "application_id": None,
                "joined_at": self._users[self.bot_user_id].joined_at,
                "large": False,
                "unavailable": False,
                "member_count": len(self._users),
                "members": [self._member(uid) for uid in member_ids],
                "channels": channels,
                "threads": threads,
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )

    def _channel_message(self, params: dict[str, str]) -> Payload | None:
        message = self._messages.get(params["message_id"])
        return message if message is not None and message["channel_id"] == params["channel_id"] else None

    def _new_message(
        self,
        channel_id: str,
        author_id: str,
        body: Payload,
        uploads: Sequence[_Upload] = (),
        interaction: _Interaction | None = None,
    ) -> Payload:
        """Store and return a complete message object, as Discord returns it and dispatches it."""
        channel = self._channels[channel_id]
        in_guild = channel["type"] != DM
        message_id = self._snowflake()
        content = body.get("content") or ""
        message: Payload = {
            "id": message_id,
            "channel_id": channel_id,
            "author": self._user(author_id),
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": _role_mentions(content),
            "attachments": self._attachments(channel_id, body, uploads, []),
            "embeds": [{"type": "rich", **embed} for embed in body.get("embeds") or []],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
        }
        if in_guild:
            message["guild_id"] = self.guild_id
            if interaction is None:
                message["member"] = self._member(author_id, with_user=False)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        replied_to = None
        reference = body.get("message_reference")
        if reference:
            replied_to = self._messages.get(str(reference.get("message_id")))
            message["type"] = 19  # REPLY
            message["message_reference"] = {
                "type": 0,
                "message_id": str(reference.get("message_id")),
                "channel_id": replied_to["channel_id"] if replied_to else channel_id,
                **({"guild_id": self.guild_id} if in_guild else {}),
            }
            message["referenced_message"] = (
                {k: v for k, v in copy.deepcopy(replied_to).items() if k != "referenced_message"}
                if replied_to
                else None
            )
        message["mentions"] = self._mentions(content, in_guild, _reply_ping(body, author_id, replied_to))
        if interaction is not None:
            message["webhook_id"] = self.application_id
            message["application_id"] = self.application_id
            message["type"] = 20 if interaction.type == APPLICATION_COMMAND else 0
            message["interaction_metadata"] = {
                "id": interaction.id,
                "type": interaction.type,
                "user": self._user(interaction.user_id),
                "authorizing_integration_owners": {"0": self.guild_id}
                if in_guild
                else {"1": interaction.user_id},
            }
        if channel["type"] in THREAD_TYPES:
            message["position"] = channel["total_message_sent"]
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        channel["last_message_id"] = message_id
        self._messages[message_id] = message
        return message

    def _mentions(self, content: str, in_guild: bool, extra: list[str]) -> list[Payload]:
        """Users mentioned as ``<@id>`` (plus a replied-to author); in guilds each carries its ``member``."""
        ids = list(dict.fromkeys(re.findall(r"<@!?(\d+)>", content) + extra))
        mentions = []
        for user_id in ids:
            if user_id in self._users:
                user = self._user(user_id)
                if in_guild:
                    user["member"] = self._member(user_id, with_user=False)
                mentions.append(user)
        return mentions

    def _attachments(
        self, channel_id: str, body: Payload, uploads: Sequence[_Upload], existing: list[Payload]
    ) -> list[Payload]:
        """Kept attachments (listed by id in ``attachments``) plus uploaded ``files[n]``, with CDN URLs."""
        listed = body.get("attachments") or []
        kept_ids = {str(a.get("id")) for a in listed}
        kept = [a for a in existing if a["id"] in kept_ids] if "attachments" in body else list(existing)
        for upload in uploads:
            attachment_id = self._snowflake()
            url = f"https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{upload.filename}"
            kept.append(
                {
                    "id": attachment_id,
                    "filename": upload.filename,
                    "size": upload.size,
                    "url": url,
                    "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                    "content_type": upload.content_type,
                }
            )
        return kept

    def _edited(self, message: Payload, body: Payload, uploads: Sequence[_Upload]) -> _Reply:
        """Apply an edit; a deferred (loading) message becomes the real answer. Echoed unless ephemeral."""
        error = _message_error({**message, **body}, uploads)
        if error is not None:
            return error
        if "content" in body:
            message["content"] = body["content"] or ""
            replied = message.get("referenced_message")
            pinged = [m["id"] for m in message["mentions"] if replied and m["id"] == replied["author"]["id"]]
            message["mentions"] = self._mentions(message["content"], "guild_id" in message, pinged)
        if "embeds" in body:
            message["embeds"] = [{"type": "rich", **embed} for embed in body["embeds"] or []]
        if "components" in body:
            message["components"] = body["components"] or []
        if "flags" in body:
            message["flags"] = (message["flags"] & EPHEMERAL) | int(body["flags"] or 0)
        message["attachments"] = self._attachments(
            message["channel_id"], body, uploads, message["attachments"]
        )
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = _now()
        events = [] if message["flags"] & EPHEMERAL else [("MESSAGE_UPDATE", copy.deepcopy(message))]
        return _Reply(body=copy.deepcopy(message), events=events)

    def _deleted(self, message: Payload) -> _Reply:
        del self._messages[message["id"]]
        self._reactors.pop(message["id"], None)
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        return _Reply(status=204, events=[] if message["flags"] & EPHEMERAL else [("MESSAGE_DELETE", event)])

    def _reaction_event(
        self, user_id: str, channel_id: str, message_id: str, emoji: str, *, add: bool
    ) -> Payload:
        """Record a reaction change on the stored message and build its gateway event."""
        message = self._messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            raise ValueError(f"no message {message_id} in channel {channel_id}")
        users = self._reactors.setdefault(message_id, {}).setdefault(emoji, [])
        if add and user_id not in users:
            users.append(user_id)
        elif not add and user_id in users:
            users.remove(user_id)
        message["reactions"] = [
            {
                "emoji": {"id": None, "name": name},
                "count": len(reactors),
                "count_details": {"burst": 0, "normal": len(reactors)},
                "burst_colors": [],
                "me": self.bot_user_id in reactors,
                "me_burst": False,
            }
            for name, reactors in self._reactors[message_id].items()
            if reactors
        ]
        event: Payload = {
            "user_id": user_id,
            "channel_id": channel_id,
            "message_id": message_id,
            "emoji": {"id": None, "name": emoji},
            "type": 0,
            "burst": False,
        }
        if "guild_id" in message:
            event["guild_id"] = message["guild_id"]
        if add:
            event.update(burst_colors=[], message_author_id=message["author"]["id"])
            if "guild_id" in message:
                event["member"] = self._member(user_id)
        return event
