"""Fixtures of the fake Discord's own tests: a fresh fake guild per test and the probe bot running against it.

Tests that need another bot (other intents, a restart) or another fake (a shorter response deadline)
make their own with ``fakes.discord_testing.fake_discord`` and ``BotThread`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.discord_api import BotThread, FakeDiscord
from fakes.discord_probe_bot import SupportBot
from fakes.discord_testing import fake_discord


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with fake_discord(monkeypatch) as made:
        yield made


@pytest.fixture
def bot(fake: FakeDiscord) -> Iterator[tuple[SupportBot, BotThread]]:
    support_bot = SupportBot(fake)
    with BotThread(support_bot, fake.token) as runner:
        yield support_bot, runner
