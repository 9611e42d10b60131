"""Fixtures of the chat adapter tests: a SupportLoop over a copy of the prepared index, a fake Slack and
the Slack bot between them (the Discord tests have their own ``bot``), and a fake Discord."""

from __future__ import annotations

from collections.abc import Iterator

import discord
import pytest
from discord_harness import ADMIN, HELPER, OTHER, USER
from fakes.discord_api import FakeDiscord
from fakes.slack_api import FakeSlack
from slack_harness import Harness, running

from core.settings import load_settings
from supportloop.app import SupportLoop


@pytest.fixture
def app(fresh_dir) -> Iterator[SupportLoop]:
    with SupportLoop(load_settings(crawl_rate_per_host=1000)) as loop:  # a re-index needn't be polite here
        yield loop


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    users = {"UADMIN": {"is_admin": True}, "UPLAIN": {}, "UOTHER": {}}
    with FakeSlack(users=users) as fake:
        yield fake


@pytest.fixture
def bot(app: SupportLoop, slack: FakeSlack) -> Iterator[Harness]:
    with running(app.conversations, slack, app, admins=("UCONFIGURED",)) as harness:
        yield harness


@pytest.fixture(autouse=True)
def _restore_discord_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter points discord.py's class-level URLs at the fake; put them back after each test."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord(admins={ADMIN}, role_names=("supportloop-admin",)) as server:
        server.add_user(USER, "plain-user")
        server.add_user(OTHER, "other-user")
        server.add_user(HELPER, "helper", roles=["supportloop-admin"])
        yield server
