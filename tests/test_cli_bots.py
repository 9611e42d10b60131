"""The bot-related commands: serve, slack-manifest, discord-invite, rollback."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import discord
from helpers import one_line_error, run_cli


def test_help_lists_the_bot_commands():
    result = run_cli("--help")
    for command in ("serve", "slack-manifest", "discord-invite", "rollback"):
        assert command in result.stdout, command


def test_discord_invite_asks_for_exactly_the_needed_scopes_and_permissions():
    token = base64.b64encode(b"112233445566778899").decode().rstrip("=") + ".Gx1.secretpart"
    result = run_cli("discord-invite", env={"SUPPORTLOOP_DISCORD_TOKEN": token})
    assert result.returncode == 0, result.stderr
    url = urlsplit(result.stdout.strip())
    query = parse_qs(url.query)
    assert query["client_id"] == ["112233445566778899"]
    assert query["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(query["permissions"][0]))
    assert {name for name, on in granted if on} == {
        "read_messages",  # discord.py's name for View Channels
        "send_messages",
        "send_messages_in_threads",
        "create_public_threads",
        "embed_links",
        "read_message_history",
    }
    assert "secretpart" not in result.stdout + result.stderr
    explicit = run_cli("discord-invite", "--client-id", "42")
    assert "client_id=42" in explicit.stdout


def test_discord_invite_without_an_id_says_what_to_set():
    result = run_cli("discord-invite")
    assert result.returncode != 0
    assert "--client-id" in one_line_error(result)


def test_serve_without_credentials_says_what_to_set(tmp_path):
    result = run_cli("serve", env={"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode != 0
    line = one_line_error(result)
    assert "SUPPORTLOOP_SLACK_BOT_TOKEN" in line and "SUPPORTLOOP_DISCORD_TOKEN" in line


def test_a_bad_slack_setting_is_refused(tmp_path):
    result = run_cli(
        "serve", env={"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data"), "SUPPORTLOOP_SLACK_API_URL": "slack"}
    )
    assert result.returncode == 2
    assert "SUPPORTLOOP_SLACK_API_URL" in one_line_error(result)


def test_settings_never_print_secrets(tmp_path):
    env = {
        "SUPPORTLOOP_DATA_DIR": str(tmp_path / "data"),
        "SUPPORTLOOP_SLACK_BOT_TOKEN": "xoxb-very-secret",
        "SUPPORTLOOP_SLACK_SIGNING_SECRET": "sign-very-secret",
        "SUPPORTLOOP_DISCORD_TOKEN": "discord-very-secret",
    }
    result = run_cli("settings", env=env)
    assert result.returncode == 0
    assert "very-secret" not in result.stdout + result.stderr


def test_slack_manifest_for_socket_mode_and_for_http():
    socket_mode = json.loads(run_cli("slack-manifest").stdout)
    assert socket_mode["settings"]["socket_mode_enabled"] is True
    assert [c["command"] for c in socket_mode["features"]["slash_commands"]] == ["/supportloop"]
    assert "app_mention" in socket_mode["settings"]["event_subscriptions"]["bot_events"]
    assert "chat:write" in socket_mode["oauth_config"]["scopes"]["bot"]
    url = "https://bot.example.com/slack/events"
    http = json.loads(run_cli("slack-manifest", "--request-url", url).stdout)
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["settings"]["event_subscriptions"]["request_url"] == url
    assert http["features"]["slash_commands"][0]["url"] == url
    refused = run_cli("slack-manifest", "--request-url", "http://plain.example.com/slack/events")
    assert refused.returncode != 0 and "https://" in one_line_error(refused)
