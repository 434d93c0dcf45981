"""One meaning, three wordings: the router's help and usage texts in each platform's
own command syntax (Slack's text grammar, Discord's application commands, the
terminal's plain text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chat.console import ConsoleHarness
from bot.chat.discord import DISCORD
from bot.config import test_settings
from bot.core.models import IncomingCommand, Reply
from bot.core.usage import COMMANDS, SLACK, TERMINAL, ref, say
from bot.service.core import open_core


async def ask(tmp_path: Path, text: str, platform: str = "slack") -> Reply:
    core = await open_core(test_settings(tmp_path))
    try:
        cmd = IncomingCommand(platform, "C1", "U1", text, can_manage=True)  # type: ignore[arg-type]
        return await core.router.dispatch(cmd)
    finally:
        await core.close()


async def test_help_in_each_platforms_syntax(tmp_path: Path) -> None:
    reply = await ask(tmp_path, "help")
    assert reply.say is not None and reply.ephemeral
    slack, discord, terminal = (reply.say.words(s) for s in (SLACK, DISCORD, TERMINAL))
    assert reply.text == slack
    # Slack: the text grammar in code spans.
    assert "`/briefing subscribe <feed url>`" in slack
    assert "`/briefing last 6h`" in slack and "`/briefing ukraine last 2d`" in slack
    # Discord: the admin group, named options, since:.
    assert "`/briefing-admin subscribe url:<feed url>`" in discord
    assert "`/briefing since:6h`" in discord and "`/briefing topic:ukraine since:2d`" in discord
    assert "`/briefing-admin schedule when:<when> timezone:<time zone>`" in discord
    assert "/briefing subscribe" not in discord and "/briefing last" not in discord
    # The terminal: the text grammar without chat markup.
    assert "/briefing subscribe <feed url> · /briefing unsubscribe <url or id>" in terminal
    assert "`/briefing" not in terminal  # commands without code spans


@pytest.mark.parametrize(
    ("text", "slack", "discord"),
    [
        ("subscribe", "Usage: `/briefing subscribe <feed url>`", "`/briefing-admin subscribe url:"),
        (
            "unsubscribe",
            "`/briefing unsubscribe <url or id>`",
            "`/briefing-admin unsubscribe feed:",
        ),
        ("topics zap x", "`/briefing topics add <words>`", "topics action:add words:<words>`"),
        ("last banana", "`/briefing last 30m`", "`/briefing since:30m`"),
        ("feeds", "`/briefing subscribe <feed url>`", "`/briefing-admin subscribe url:<feed url>`"),
    ],
)
async def test_usage_texts_in_each_platforms_syntax(
    tmp_path: Path, text: str, slack: str, discord: str
) -> None:
    reply = await ask(tmp_path, text)
    assert reply.say is not None
    assert slack in reply.say.words(SLACK)
    assert discord in reply.say.words(DISCORD)
    assert slack.replace("`", "") in reply.say.words(TERMINAL)


async def test_terminal_help_reads_as_plain_text(tmp_path: Path) -> None:
    core = await open_core(test_settings(tmp_path))
    try:
        out = await ConsoleHarness(core.router).command("/briefing help")
    finally:
        await core.close()
    assert "• /briefing subscribe <feed url> · /briefing unsubscribe <url or id>" in out
    assert "briefing-admin" not in out and "url:" not in out


def test_every_command_has_a_wording_on_every_platform() -> None:
    for key, spec in COMMANDS.items():
        mention = ref(key, **{a.name: "" for a in spec.args})
        for syntax in (SLACK, DISCORD, TERMINAL):
            assert syntax.command(mention).strip("`").startswith("/briefing")


def test_literal_braces_survive() -> None:
    assert say("{odd} title ", ref("help")).words(SLACK) == "{odd} title `/briefing help`"
