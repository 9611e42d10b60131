"""The Slack app manifest: the scopes, events and command the adapter uses, in one paste-able document.

Kept apart from the adapter so that printing it (``supportloop slack-manifest``) loads neither Bolt nor
the Slack SDK.
"""

from __future__ import annotations

from typing import Any

from bots import messages

COMMAND = "/supportloop"
# What the adapter calls and subscribes to, and so the scopes the manifest asks for.
BOT_SCOPES = (
    "app_mentions:read",  # app_mention
    "channels:history",  # message.channels: follow-ups in public threads
    "groups:history",  # message.groups: the same in private channels
    "im:history",  # message.im: direct messages
    "chat:write",  # chat.postMessage, chat.update, chat.postEphemeral
    "commands",  # /supportloop
    "reactions:read",  # reaction_added / reaction_removed
    "users:read",  # users.info: is the user a workspace admin?
)
BOT_EVENTS = (
    "app_mention",
    "message.im",
    "message.channels",
    "message.groups",
    "reaction_added",
    "reaction_removed",
)


def slack_manifest(*, request_url: str | None, name: str = "SupportLoop") -> dict[str, Any]:
    """The Slack app manifest for this adapter (paste it at api.slack.com/apps → Create from manifest).

    Without ``request_url`` the app uses Socket Mode (create an app-level token with
    ``connections:write``); with it, Slack sends events, interactions and the command to that URL (it
    should end in ``/slack/events``).
    """
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": messages.COMMAND_DESCRIPTION,
        "usage_hint": messages.COMMAND_USAGE,
        "should_escape": False,
    }
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url is not None:
        command["url"] = events["request_url"] = interactivity["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name[:35],
            "description": messages.COMMAND_DESCRIPTION[:140],
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": name[:80], "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }
