"""Who sees what on Discord: the first follow-up after a defer takes the defer's
visibility (the fake models this), so the adapter decides before deferring. Errors,
help and management stay private; a briefing is public; an empty briefing removes
its public placeholder and answers privately; an unknown command gets an answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.chat.discord import STALE, BriefbotClient
from tests.chat.test_discord_client import bot, settings  # noqa: F401  (fixtures)
from tests.fakes.discord_fake import (
    ADMIN_MEMBER,
    BASIC_MEMBER,
    FakeDiscord,
    opt,
    slash,
    sub,
)


async def followups(fake: FakeDiscord, interaction: dict[str, Any]) -> list[dict[str, Any]]:
    """The follow-up messages as the channel would see them (``ephemeral`` as Discord
    decides it: the first one inherits the defer's flags)."""
    token = interaction["token"]
    await fake.inject(interaction)
    await fake.wait_until(lambda: any(token in r.path for r in fake.calls("POST", "/webhooks/")))
    paths = [r.path for r in fake.calls("POST", "/webhooks/") if token in r.path]
    return [m for m in fake.messages if m["via"] == "webhook"][-len(paths) :]


def deferred_ephemeral(fake: FakeDiscord, interaction: dict[str, Any]) -> bool:
    [callback] = [c for c in fake.callbacks if c["interaction"] == interaction["id"]]
    assert callback["type"] == 5
    return bool(int((callback.get("data") or {}).get("flags", 0)) & 64)


async def test_the_fake_gives_the_first_follow_up_the_defers_visibility(
    fake: FakeDiscord,
    bot: BriefbotClient,  # noqa: F811
) -> None:
    """The rule itself, through discord.py: a public defer, then an "ephemeral"
    follow-up, is seen by the whole channel; a second follow-up keeps its own flags."""

    @bot.tree.command(name="probe", description="probe")
    async def probe(interaction: Any) -> None:
        await interaction.response.defer(ephemeral=False, thinking=True)
        await interaction.followup.send("first", ephemeral=True)
        await interaction.followup.send("second", ephemeral=True)

    interaction = slash("probe")
    token = interaction["token"]
    await fake.inject(interaction)
    await fake.wait_until(
        lambda: len([r for r in fake.calls("POST", "/webhooks/") if token in r.path]) == 2
    )
    first, second = [m for m in fake.messages if m["via"] == "webhook"][-2:]
    assert (first["content"], first["ephemeral"]) == ("first", False)
    assert (second["content"], second["ephemeral"]) == ("second", True)


async def test_a_briefing_is_public(fake: FakeDiscord, bot: BriefbotClient) -> None:  # noqa: F811
    interaction = slash("briefing", [opt("topic", "ukraine")])
    [message] = await followups(fake, interaction)
    assert not deferred_ephemeral(fake, interaction)
    assert message["ephemeral"] is False
    assert "Ukraine" in message["embeds"][0]["title"]
    assert interaction["token"] not in fake.deleted


@pytest.mark.parametrize(
    "options",
    [
        [opt("topic", "help")],
        [opt("since", "forever")],  # a usage error
        [opt("topic", "...")],  # nothing to search for
        [opt("topic", "status")],
    ],
    ids=["help", "bad-window", "no-words", "status"],
)
async def test_help_and_usage_errors_are_private(
    fake: FakeDiscord,
    bot: BriefbotClient,  # noqa: F811
    options: list[dict[str, Any]],
) -> None:
    interaction = slash("briefing", options)
    messages = await followups(fake, interaction)
    assert deferred_ephemeral(fake, interaction)
    assert messages and all(m["ephemeral"] for m in messages)
    assert interaction["token"] not in fake.deleted  # nothing public was ever shown


async def test_an_empty_briefing_removes_its_placeholder_and_answers_privately(
    fake: FakeDiscord,
    bot: BriefbotClient,  # noqa: F811
) -> None:
    interaction = slash("briefing", [opt("topic", "volcano")])
    [message] = await followups(fake, interaction)
    assert not deferred_ephemeral(fake, interaction)  # it looked like a briefing
    assert interaction["token"] in fake.deleted
    assert message["ephemeral"] is True
    assert "Nothing new" in message["content"]
    assert "`/briefing since:2d`" in message["content"]  # Discord's syntax, not Slack's


@pytest.mark.parametrize("permissions", [BASIC_MEMBER, ADMIN_MEMBER], ids=["member", "admin"])
async def test_management_replies_are_private(
    fake: FakeDiscord,
    bot: BriefbotClient,  # noqa: F811
    permissions: int,
) -> None:
    interaction = slash("briefing-admin", [sub("feeds")], permissions=permissions)
    messages = await followups(fake, interaction)
    assert deferred_ephemeral(fake, interaction)
    assert messages and all(m["ephemeral"] for m in messages)


async def test_help_uses_discords_commands(fake: FakeDiscord, bot: BriefbotClient) -> None:  # noqa: F811
    [message] = await followups(fake, slash("briefing", [opt("topic", "help")]))
    text = message["content"]
    assert "`/briefing-admin subscribe url:<feed url>`" in text
    assert "`/briefing since:6h`" in text
    assert "`/briefing topic:ukraine since:2d`" in text
    assert "`/briefing-admin topics action:add words:<words>`" in text
    assert "`/briefing-admin schedule when:off`" in text
    assert "/briefing subscribe" not in text and "last 6h" not in text  # Slack's grammar


async def test_usage_error_names_the_discord_option(fake: FakeDiscord, bot: BriefbotClient) -> None:  # noqa: F811
    [message] = await followups(fake, slash("briefing", [opt("since", "forever")]))
    assert "`/briefing since:30m`" in message["content"]


async def test_unknown_command_gets_a_private_answer_logged_once(
    fake: FakeDiscord,
    bot: BriefbotClient,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    first, second = slash("brief"), slash("brief")
    second["data"]["id"] = first["data"]["id"]  # the same stale registration, used twice
    for interaction in (first, second):
        await fake.inject(interaction)
        await fake.wait_until(
            lambda i=interaction: any(c["interaction"] == i["id"] for c in fake.callbacks)
        )
        [callback] = [c for c in fake.callbacks if c["interaction"] == interaction["id"]]
        assert callback["type"] == 4  # answered at once, not "did not respond"
        assert callback["data"]["content"] == STALE
        assert int(callback["data"]["flags"]) & 64
    logged = [r for r in caplog.records if "not a command this version knows" in r.message]
    assert len(logged) == 1
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("discord"))
