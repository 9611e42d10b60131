"""What the fake Discord's own tests share: a fake guild that discord.py is pointed at, and a wait for events.

Every test drives the probe bot against the same guild (an admin, a plain user, a user with the
``supportloop-admin`` role), so making it and waiting on what the bot saw live here once; the pytest
fixtures built on them are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import discord
import pytest
import yarl

from fakes.discord_api import BotThread, FakeDiscord
from fakes.discord_probe_bot import ADMIN, HELPER, USER, SupportBot, VoteView


@contextlib.contextmanager
def fake_discord(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Iterator[FakeDiscord]:
    """A fake guild with an admin, a plain user and a user with the ``supportloop-admin`` role."""
    with FakeDiscord(admins={ADMIN}, role_names=("supportloop-admin",), **kwargs) as fake:
        fake.add_user(USER, "plain-user")
        fake.add_user(HELPER, "helper", roles=("supportloop-admin",))
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        yield fake


def first(
    fake: FakeDiscord, bot: SupportBot, kind: str, where: Callable[[Any], bool] = lambda _: True
) -> Any:
    """Wait for the first event of ``kind`` the bot saw that matches ``where``."""
    fake.wait_for(lambda: any(where(item) for item in bot.events(kind)), message=f"bot saw no {kind}")
    return next(item for item in bot.events(kind) if where(item))


def post_with_buttons(fake: FakeDiscord, bot: SupportBot, runner: BotThread, text: str) -> discord.Message:
    """Post ``text`` with the probe bot's buttons in the guild's channel.

    The view is built on the bot's own loop: one made in another thread silently ignores clicks and,
    being registered for its message, also hides the persistent view from ``setup_hook``.
    """
    channel = bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)

    async def post() -> discord.Message:
        return await channel.send(text, view=VoteView(bot.seen))

    return runner.call(post())
