"""Messages through the fake Discord look to a real discord.py bot as they would on Discord.

The adapter answers in channels, threads and DMs, with embeds, buttons, files and reactions; these tests
check that what users send reaches discord.py the way Discord would deliver it, and that what the bot
sends is stored the way Discord would keep it, so adapter e2e tests can read the fake's records as truth.
"""

from __future__ import annotations

import io

import discord

from fakes.discord_api import BotThread, FakeDiscord
from fakes.discord_probe_bot import ADMIN, USER, VOTE_UP, SupportBot, VoteView
from fakes.discord_testing import first


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
