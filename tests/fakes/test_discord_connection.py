"""The fake Discord keeps a real discord.py bot connected as Discord does, so adapter e2e tests can trust it.

Getting the guild right at startup, honouring the intents the bot identified with, surviving dropped
gateway sessions and odd events, and answering REST calls (429s and errors included) exactly as Discord
does are what keep discord.py's client alive; a fake that got one of them wrong would fail the adapter's
tests for reasons Discord never gives.
"""

from __future__ import annotations

from typing import Any

import discord
import httpx
import pytest

from fakes.discord_api import BotThread, FakeDiscord
from fakes.discord_probe_bot import ADMIN, HELPER, USER, SupportBot
from fakes.discord_testing import first


def test_connects_and_knows_the_guild(fake: FakeDiscord) -> None:
    with pytest.raises(TimeoutError):
        fake.wait_for_ready(timeout=0.1)
    members_bot = SupportBot(fake, members=True)  # with the members intent discord.py chunks the guild (op 8)
    with BotThread(members_bot, fake.token) as runner:
        guild = members_bot.get_guild(int(fake.guild_id))
        assert guild is not None and members_bot.is_ready()
        assert {"@everyone", "Administrator", "supportloop-admin"} <= {role.name for role in guild.roles}
        assert guild.get_channel(int(fake.channel_id)).name == "support"  # type: ignore[union-attr]
        assert {ADMIN, USER, HELPER, fake.bot_user_id} <= {str(m.id) for m in guild.members}
        assert guild.get_member(int(ADMIN)).guild_permissions.administrator  # type: ignore[union-attr]
        assert not guild.get_member(int(USER)).guild_permissions.administrator  # type: ignore[union-attr]
        assert guild.me.bot and str(members_bot.user.id) == fake.bot_user_id  # type: ignore[union-attr]
        fake.add_user("4004", "newcomer")  # GUILD_MEMBER_ADD, which needs the members intent
        fake.wait_for(lambda: guild.get_member(4004) is not None)
        fetched = runner.call(members_bot.tree.fetch_commands(guild=members_bot.guild_ref))
        assert [command.name for command in fetched] == ["supportloop"]
    assert fake.gateway_connections == 1
    assert [(c.method, c.path) for c in fake.calls[:2]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
    ]
    [command] = fake.registered_commands(fake.guild_id)
    assert command["name"] == "supportloop" and command["guild_id"] == fake.guild_id
    assert {option["name"] for option in command["options"]} == {"status", "ask", "feedback", "slow"}

    # Without the members intent discord.py keeps only the members it meets (the bot itself at startup).
    plain_bot = SupportBot(fake)
    with BotThread(plain_bot, fake.token):
        assert [m.id for m in plain_bot.get_guild(int(fake.guild_id)).members] == [plain_bot.user.id]  # type: ignore[union-attr]


def test_message_content_needs_the_intent(fake: FakeDiscord) -> None:
    blind_bot = SupportBot(fake, message_content=False)
    with BotThread(blind_bot, fake.token):
        plain = fake.user_message(USER, "nobody mentioned")
        mention = fake.user_message(USER, "but me", mention_bot=True)
        assert first(fake, blind_bot, "message", lambda m: m.id == int(plain["id"])).content == ""
        assert first(fake, blind_bot, "message", lambda m: m.id == int(mention["id"])).content.endswith(
            "but me"
        )


def test_rate_limit_is_retried(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, runner = bot
    channel = support_bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    fake.rate_limit("POST", "/channels/{channel_id}/messages", times=1, retry_after=0.1)
    runner.call(channel.send("hello after a 429"))
    assert len(fake.calls_to("POST", f"/channels/{fake.channel_id}/messages")) == 2
    ours = [m for m in fake.channel_messages(fake.channel_id) if m["author"]["id"] == fake.bot_user_id]
    assert [m["content"] for m in ours] == ["hello after a 429"]


class NoIdentifyDelayBot(SupportBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every IDENTIFY but the first; skipped to keep the test fast."""


def test_reconnects_after_gateway_disconnects(fake: FakeDiscord) -> None:
    reconnecting_bot = NoIdentifyDelayBot(fake)
    with BotThread(reconnecting_bot, fake.token):
        fake.disconnect()
        added = fake.add_channel("announcements")  # dispatched while the bot is away: replayed on RESUME
        fake.wait_for(lambda: fake.resumes == 1)
        fake.wait_for(lambda: reconnecting_bot.get_channel(int(added)) is not None)
        after_resume = fake.user_message(USER, "still there?")
        first(fake, reconnecting_bot, "message", lambda m: m.id == int(after_resume["id"]))

        fake.disconnect(resumable=False)  # the RESUME gets INVALID_SESSION, then discord.py IDENTIFYs again
        fake.wait_for(lambda: fake.gateway_connections == 3)
        after_identify = fake.user_message(USER, "and now?")
        first(fake, reconnecting_bot, "message", lambda m: m.id == int(after_identify["id"]))


def test_unknown_and_malformed_events(fake: FakeDiscord) -> None:
    crashing_bot = SupportBot(fake)
    with BotThread(crashing_bot, fake.token) as runner:
        fake.send_raw({"t": "SOMETHING_DISCORD_ADDS_LATER", "d": {"x": 1}})  # discord.py logs and ignores it
        alive = fake.user_message(USER, "still alive?")
        first(fake, crashing_bot, "message", lambda m: m.id == int(alive["id"]))

        # A KeyError in discord.py's parser ends Client.connect(): the bot is gone, not just this event.
        fake.send_raw({"t": "MESSAGE_CREATE", "d": {"id": "1"}})
        fake.wait_for(lambda: runner.crashed is not None)
        assert isinstance(runner.crashed, KeyError)

    fresh_bot = SupportBot(fake)  # the fake itself is unharmed
    with BotThread(fresh_bot, fake.token):
        assert fresh_bot.get_guild(int(fake.guild_id)) is not None


def test_rest_errors_look_like_discord(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, runner = bot
    channel = support_bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    question = fake.user_message(USER, "hello")

    async def expect(error: type[discord.HTTPException], call: Any) -> int:
        with pytest.raises(error) as raised:
            await call
        return raised.value.code

    http = support_bot.http
    assert runner.call(expect(discord.NotFound, http.request(discord.http.Route("GET", "/nope")))) == 0
    assert runner.call(expect(discord.HTTPException, channel.send())) == 50006
    assert runner.call(expect(discord.HTTPException, channel.send("x" * 2001))) == 50035
    users_message = runner.call(channel.fetch_message(int(question["id"])))
    assert runner.call(expect(discord.Forbidden, users_message.edit(content="mine now"))) == 50005
    assert runner.call(expect(discord.NotFound, channel.fetch_message(1))) == 10008

    member = runner.call(support_bot.get_guild(int(fake.guild_id)).fetch_member(int(HELPER)))  # type: ignore[union-attr]
    assert [role.name for role in member.roles[1:]] == ["supportloop-admin"]
    shards, gateway, _ = runner.call(http.get_bot_gateway())  # what AutoShardedBot connects to
    assert (shards, gateway) == (1, fake.gateway_url)

    with pytest.raises(discord.LoginFailure), BotThread(SupportBot(fake), "not-the-token"):
        pass

    headers = {"Authorization": f"Bot {fake.token}"}
    me = httpx.get(f"{fake.api_url}/users/@me", headers=headers, timeout=5)
    assert me.headers["content-type"] == "application/json"  # exactly: discord.py compares the string
    fake.rate_limit("GET", "/users/@me", retry_after=0.5)
    limited = httpx.get(f"{fake.api_url}/users/@me", headers=headers, timeout=5)
    assert limited.status_code == 429 and limited.headers["Via"] == "1.1 google"
    assert limited.json() == {"message": "You are being rate limited.", "retry_after": 0.5, "global": False}
