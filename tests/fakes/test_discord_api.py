"""The fake Discord works with the real discord.py 2.7 ``commands.Bot``, so adapter e2e tests can trust it.

Each test runs a real bot in a :class:`BotThread` against a fresh :class:`FakeDiscord`, pushes what users
do through the fake and checks both sides: what discord.py made of it, and what the fake recorded.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import discord
import httpx
import pytest
import yarl

from fakes.discord_api import BotThread, FakeDiscord
from fakes.discord_probe_bot import (
    ADMIN,
    CLOSE,
    FEEDBACK,
    FEEDBACK_TEXT,
    HELPER,
    USER,
    VOTE_UP,
    SupportBot,
    VoteView,
)


@contextlib.contextmanager
def fake_discord(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Iterator[FakeDiscord]:
    """A fake guild with an admin, a plain user and a user with the ``supportloop-admin`` role."""
    with FakeDiscord(admins={ADMIN}, role_names=("supportloop-admin",), **kwargs) as fake:
        fake.add_user(USER, "plain-user")
        fake.add_user(HELPER, "helper", roles=("supportloop-admin",))
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        yield fake


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with fake_discord(monkeypatch) as made:
        yield made


@pytest.fixture
def bot(fake: FakeDiscord) -> Iterator[tuple[SupportBot, BotThread]]:
    support_bot = SupportBot(fake)
    with BotThread(support_bot, fake.token) as runner:
        yield support_bot, runner


def first(
    fake: FakeDiscord, bot: SupportBot, kind: str, where: Callable[[Any], bool] = lambda _: True
) -> Any:
    """Wait for the first event of ``kind`` the bot saw that matches ``where``."""
    fake.wait_for(lambda: any(where(item) for item in bot.events(kind)), message=f"bot saw no {kind}")
    return next(item for item in bot.events(kind) if where(item))


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


def test_mentions_and_dms_reach_on_message(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, runner = bot
    sent = fake.user_message(USER, "my order is late", mention_bot=True)
    message = first(fake, support_bot, "message", lambda m: m.id == int(sent["id"]))
    assert support_bot.user in message.mentions
    assert message.guild.id == int(fake.guild_id) and message.channel.id == int(fake.channel_id)
    assert isinstance(message.author, discord.Member) and message.content.endswith("my order is late")
    answer = runner.call(message.channel.send("Let me check."))
    follow_up = fake.user_message(USER, "thanks", reply_to=str(answer.id))
    reply = first(fake, support_bot, "message", lambda m: m.id == int(follow_up["id"]))
    assert reply.reference.message_id == answer.id and support_bot.user in reply.mentions  # replies ping

    dm = fake.user_message(USER, "a private question", dm=True)
    private = first(fake, support_bot, "message", lambda m: m.id == int(dm["id"]))
    assert private.guild is None and isinstance(private.channel, discord.DMChannel)
    runner.call(private.channel.send("Happy to help here."))
    assert fake.channel_messages(dm["channel_id"])[-1]["content"] == "Happy to help here."

    # Opening a DM from the bot's side reuses the same DM channel.
    user = runner.call(support_bot.fetch_user(int(ADMIN)))
    runner.call(user.send("A note for the admin"))
    assert fake.channel_messages(fake.dm_channel_id(ADMIN))[-1]["content"] == "A note for the admin"
    assert fake.calls_to("POST", "/users/@me/channels")[-1].json == {"recipient_id": int(ADMIN)}


def test_message_content_needs_the_intent(fake: FakeDiscord) -> None:
    blind_bot = SupportBot(fake, message_content=False)
    with BotThread(blind_bot, fake.token):
        plain = fake.user_message(USER, "nobody mentioned")
        mention = fake.user_message(USER, "but me", mention_bot=True)
        assert first(fake, blind_bot, "message", lambda m: m.id == int(plain["id"])).content == ""
        assert first(fake, blind_bot, "message", lambda m: m.id == int(mention["id"])).content.endswith(
            "but me"
        )


def test_thread_from_a_message(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, runner = bot
    question = fake.user_message(USER, "my printer is on fire", mention_bot=True)
    message = first(fake, support_bot, "message", lambda m: m.id == int(question["id"]))
    thread = runner.call(message.create_thread(name="Support: printer"))
    assert thread.id == message.id  # Discord gives the thread the starter message's id
    stored = fake.threads[str(thread.id)]
    assert stored["parent_id"] == fake.channel_id and stored["name"] == "Support: printer"
    assert first(fake, support_bot, "thread_create").id == thread.id  # THREAD_CREATE reached discord.py
    runner.call(thread.send("Let's sort it out here."))

    reply = fake.user_message(USER, "it is still burning", channel_id=str(thread.id))
    got = first(fake, support_bot, "message", lambda m: m.id == int(reply["id"]))
    assert isinstance(got.channel, discord.Thread) and got.channel.parent_id == int(fake.channel_id)
    contents = [m["content"] for m in fake.channel_messages(str(thread.id))]
    assert contents == ["Let's sort it out here.", "it is still burning"]

    async def history() -> list[str]:
        return [m.content async for m in thread.history(limit=10)]

    assert runner.call(history()) == contents[::-1]
    fetched = runner.call(support_bot.fetch_channel(thread.id))
    assert isinstance(fetched, discord.Thread) and fetched.parent_id == int(fake.channel_id)

    channel = support_bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    private = runner.call(channel.create_thread(name="Escalation"))
    assert fake.threads[str(private.id)]["type"] == 12 and private.type is discord.ChannelType.private_thread


def test_embeds_components_edits_and_reactions_are_stored(
    fake: FakeDiscord, bot: tuple[SupportBot, BotThread]
) -> None:
    support_bot, runner = bot
    channel = support_bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)

    async def post_answer() -> discord.Message:
        embed = discord.Embed(title="Answer", description="Turn it off and on again.")
        return await channel.send(embed=embed, view=VoteView(support_bot.seen))

    sent = runner.call(post_answer())
    stored = fake.messages[str(sent.id)]
    assert stored["author"]["id"] == fake.bot_user_id and stored["author"]["bot"] is True
    assert stored["embeds"][0]["title"] == "Answer"
    assert stored["components"][0]["components"][0]["custom_id"] == VOTE_UP
    # Like Discord, the fake echoes the bot's own message over the gateway.
    assert first(fake, support_bot, "message", lambda m: m.id == sent.id).author == support_bot.user

    runner.call(sent.edit(content="Edited answer"))
    runner.call(sent.add_reaction("👀"))
    stored = fake.messages[str(sent.id)]
    assert stored["content"] == "Edited answer" and stored["edited_timestamp"] is not None
    assert stored["reactions"][0]["emoji"]["name"] == "👀" and stored["reactions"][0]["me"] is True
    runner.call(sent.remove_reaction("👀", support_bot.user))  # type: ignore[arg-type]
    assert fake.messages[str(sent.id)]["reactions"] == []

    fetched = runner.call(channel.fetch_message(sent.id))
    assert fetched.content == "Edited answer" and fetched.embeds[0].description == "Turn it off and on again."

    async def typing() -> None:
        await channel.typing()  # awaiting Typing sends one POST /typing

    runner.call(typing())
    assert fake.calls_to("POST", "/channels/{channel_id}/typing")

    question = fake.user_message(USER, "why?")
    reply = runner.call(runner.call(channel.fetch_message(int(question["id"]))).reply("Because."))
    stored_reply = fake.messages[str(reply.id)]
    assert stored_reply["type"] == 19 and stored_reply["referenced_message"]["id"] == question["id"]
    runner.call(reply.delete())
    assert str(reply.id) not in fake.messages

    log = runner.call(channel.send("The log:", file=discord.File(io.BytesIO(b"line 1\n"), "support.log")))
    [attachment] = fake.messages[str(log.id)]["attachments"]  # sent as multipart with payload_json
    assert (attachment["filename"], attachment["size"]) == ("support.log", 7) and log.attachments[0].size == 7


def test_reactions_reach_raw_handlers(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, _ = bot
    message = fake.user_message(USER, "rate this")
    fake.react(USER, fake.channel_id, message["id"], "👍")
    added = first(fake, support_bot, "reaction_add")
    assert (added.emoji.name, added.user_id, added.message_id) == ("👍", int(USER), int(message["id"]))
    assert added.member.id == int(USER) and added.guild_id == int(fake.guild_id)
    assert fake.messages[message["id"]]["reactions"][0]["count"] == 1

    fake.unreact(USER, fake.channel_id, message["id"], "👍")
    removed = first(fake, support_bot, "reaction_remove")
    assert (removed.emoji.name, removed.user_id) == ("👍", int(USER))
    assert fake.messages[message["id"]]["reactions"] == []


def test_slash_command_permissions_and_ephemeral_reply(
    fake: FakeDiscord, bot: tuple[SupportBot, BotThread]
) -> None:
    replies = {}
    for user in (ADMIN, USER, HELPER):
        interaction_id = fake.slash_command(user, "supportloop", "status")
        fake.wait_for(lambda iid=interaction_id: fake.interaction_responses(iid))
        [response] = fake.interaction_responses(interaction_id)
        assert response["kind"] == "callback" and response["type"] == 4
        assert response["data"]["flags"] & 64  # ephemeral
        replies[user] = response["data"]["content"]
    assert replies == {
        ADMIN: "admin=True roles=Administrator",
        USER: "admin=False roles=",
        HELPER: "admin=False roles=supportloop-admin",
    }
    # Ephemeral replies are stored but nobody else sees them in the channel.
    assert not [m for m in fake.channel_messages(fake.channel_id) if m["author"]["id"] == fake.bot_user_id]

    with pytest.raises(LookupError):
        fake.slash_command(USER, "unsynced")
    with pytest.raises(ValueError):
        fake.slash_command(USER, "supportloop", "nope")
    with pytest.raises(ValueError):
        fake.slash_command(USER, "supportloop", "ask")  # the required option is missing


def test_defer_followup_and_edit_original(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    interaction_id = fake.slash_command(USER, "supportloop", "ask", {"question": "Where is my order?"})
    fake.wait_for(lambda: len(fake.interaction_responses(interaction_id)) == 3)
    responses = fake.interaction_responses(interaction_id)
    assert [(r["kind"], r["type"]) for r in responses] == [
        ("callback", 5),
        ("followup", None),
        ("edit", None),
    ]
    assert responses[2]["message_id"] == "@original"
    # The first follow-up after a "thinking" defer fills in that message; the edit then replaces it.
    [answer] = [m for m in fake.channel_messages(fake.channel_id) if "interaction_metadata" in m]
    assert answer["content"] == "Answer to: Where is my order?" and answer["flags"] == 0
    assert answer["interaction_metadata"]["user"]["id"] == USER


def test_interaction_expires_without_a_timely_response(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_discord(monkeypatch, response_deadline=0.1) as fake:
        slow_bot = SupportBot(fake)
        with BotThread(slow_bot, fake.token):
            fake.slash_command(USER, "supportloop", "slow")
            expired = first(fake, slow_bot, "expired")
            assert expired.code == 10062  # Unknown interaction: defer() first when answering takes long


def test_persistent_button_works_after_restart(fake: FakeDiscord) -> None:
    first_bot = SupportBot(fake)
    with BotThread(first_bot, fake.token) as runner:
        channel = first_bot.get_channel(int(fake.channel_id))
        assert isinstance(channel, discord.TextChannel)

        async def post_panel() -> discord.Message:
            # Build views on the bot's loop: one made in another thread silently ignores clicks and, being
            # registered for this message, also hides the persistent view from setup_hook.
            return await channel.send("Was this helpful?", view=VoteView(first_bot.seen))

        panel = runner.call(post_panel())
        clicked = fake.click_button(USER, str(panel.id), VOTE_UP)
        assert first(fake, first_bot, "vote").message.id == panel.id
        fake.wait_for(lambda: fake.interaction_responses(clicked))

    restarted = SupportBot(fake)  # re-adds the persistent view in setup_hook
    with BotThread(restarted, fake.token):
        clicked = fake.click_button(ADMIN, fake.messages[str(panel.id)], VOTE_UP)
        vote = first(fake, restarted, "vote")
        assert vote.message.id == panel.id and vote.user.id == int(ADMIN)
        fake.wait_for(lambda: fake.interaction_responses(clicked))
        [response] = fake.interaction_responses(clicked)
        assert response["data"]["content"] == "Thanks for the vote!" and response["data"]["flags"] & 64
    assert fake.gateway_connections == 2
    with pytest.raises(ValueError):
        fake.click_button(USER, str(panel.id), "supportloop:vote:down:42")  # no such button on the message


def test_button_updates_its_message(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, runner = bot
    channel = support_bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)

    async def post_ticket() -> discord.Message:
        return await channel.send("Ticket #42", view=VoteView(support_bot.seen))

    ticket = runner.call(post_ticket())
    clicked = fake.click_button(USER, str(ticket.id), CLOSE)
    assert (
        first(fake, support_bot, "closed") == "Ticket closed."
    )  # original_response() is the clicked message
    kinds = [(r["kind"], r["type"]) for r in fake.interaction_responses(clicked)]
    assert kinds == [("callback", 7), ("followup", None), ("delete", None)]
    stored = fake.messages[str(ticket.id)]
    assert stored["content"] == "Ticket closed." and stored["components"] == []
    assert [m["id"] for m in fake.channel_messages(fake.channel_id)] == [
        str(ticket.id)
    ]  # the note was ephemeral


def test_modal_is_shown_and_submitted(fake: FakeDiscord, bot: tuple[SupportBot, BotThread]) -> None:
    support_bot, _ = bot
    opened = fake.slash_command(USER, "supportloop", "feedback")
    fake.wait_for(lambda: fake.interaction_responses(opened))
    [shown] = fake.interaction_responses(opened)
    assert shown["type"] == 9 and shown["data"]["custom_id"] == FEEDBACK

    with pytest.raises(ValueError):
        fake.submit_modal(ADMIN, FEEDBACK, {FEEDBACK_TEXT: "x"})  # the admin was never shown it
    with pytest.raises(ValueError):
        fake.submit_modal(USER, FEEDBACK, {"unknown": "x"})
    submitted = fake.submit_modal(USER, FEEDBACK, {FEEDBACK_TEXT: "The answer was outdated"})
    assert first(fake, support_bot, "modal") == "The answer was outdated"
    fake.wait_for(lambda: fake.interaction_responses(submitted))
    assert fake.interaction_responses(submitted)[0]["data"]["content"] == "Noted, thank you."


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
