"""Story drill-down on Slack and in the terminal: the "Sources (N)" button of a briefing
(a signed ``block_actions`` request into the real Bolt app) and `/briefing story <n>`.

Slack is the loopback fake; the core is ``open_core`` on a SQLite file with articles
ingested through the real pipeline, three outlets reporting one story.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chat.console import ConsoleHarness
from bot.chat.slack import SlackOptions, build_slack_app
from bot.config import test_settings
from bot.core.drilldown import GONE
from bot.core.models import ArticleDraft
from bot.service.core import Core, open_core
from tests.fakes.slack_api import (
    ARTICLES,
    FakeSlack,
    check_blocks,
    form,
    serve_bolt,
    signed,
    slash_payload,
)

SECRET = "story-signing-secret"
TOKEN = "xoxb-story"
GRAIN = [
    ("Harbour Times", "Ukraine and Russia agree to resume grain corridor talks in Istanbul"),
    ("Daily Ledger", "Grain corridor talks between Ukraine and Russia to resume in Istanbul"),
    ("<!channel> Wire", "Ukraine, Russia agree on Istanbul grain corridor talks @everyone"),
]
SENTENCES = [
    "Ukraine and Russia agreed on Tuesday to resume talks on the Black Sea grain corridor.",
    "The talks will take place in Istanbul next week under Turkish mediation.",
    "Shipping companies said insurance costs had doubled since the corridor closed.",
    "Wheat prices fell two percent after the announcement.",
    "Officials in Kyiv said exports could restart within a month.",
    "Moscow said any deal must ease sanctions on its fertiliser exports.",
    "The United Nations welcomed the agreement as a step towards food security.",
    "Farmers in Odesa said silos were already full from the summer harvest.",
]


def body(n: int) -> str:
    """Each outlet tells it in its own order, with a sentence of its own."""
    rotated = SENTENCES[n:] + SENTENCES[:n]
    return " ".join([*rotated, f"Reporting by outlet {n} in the region."])


def grain_drafts() -> list[ArticleDraft]:
    now = datetime.now(UTC)
    return [
        ArticleDraft(
            source=source,
            key=f"grain-{n}",
            title=title,
            text=body(n),
            published_at=now - timedelta(minutes=30 - n),
            url=f"https://outlet{n}.example/grain",
        )
        for n, (source, title) in enumerate(GRAIN)
    ]


@dataclass
class Slack:
    fake: FakeSlack
    core: Core
    url: str
    session: aiohttp.ClientSession

    async def post(self, body: str) -> int:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(signed(SECRET, body))
        async with self.session.post(self.url + "/slack/events", data=body, headers=headers) as r:
            await r.read()
            return r.status

    async def command(self, text: str, user: str = "UMEMBER") -> dict[str, Any]:
        """``/briefing text``; the next post or response it produced."""
        posts, responses = len(self.fake.posts()), len(self.fake.responses)
        body = form(slash_payload(text, user=user, response_url=self.fake.response_url()))
        assert await self.post(body) == 200
        await self.fake.wait_for(
            lambda: len(self.fake.posts()) > posts or len(self.fake.responses) > responses
        )
        if len(self.fake.responses) > responses:
            return self.fake.responses[responses]
        return self.fake.posts()[posts].args

    async def press(self, value: str, *, bad: bool = False) -> tuple[int, list[dict[str, Any]]]:
        """Press a "Sources" button carrying ``value``, as a member; the status and what
        reached the response_url."""
        responses = len(self.fake.responses)
        body = form({"payload": json.dumps(block_actions(value, self.fake.response_url("b")))})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(signed(SECRET, body, bad=bad))
        async with self.session.post(self.url + "/slack/events", data=body, headers=headers) as r:
            await r.read()
            status = r.status
        if status == 200:
            await self.fake.wait_for(lambda: len(self.fake.responses) > responses)
        return status, self.fake.responses[responses:]


def block_actions(value: str, response_url: str) -> dict[str, Any]:
    """The interaction payload Slack sends when a member presses a button in channel C1."""
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "t1"},
        "user": {"id": "UMEMBER", "username": "member", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": "C1"},
        "trigger_id": "1.2.3",
        "channel": {"id": "C1", "name": "news"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": "briefbot_story",
                "block_id": "b1",
                "value": value,
                "action_ts": "1700000001.000001",
                "text": {"type": "plain_text", "text": "Sources (3)"},
            }
        ],
    }


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[Slack]:
    core = await open_core(test_settings(tmp_path))
    await core.pipeline.ingest("test", [*ARTICLES, *grain_drafts()])
    options = SlackOptions(mode="http", signing_secret=SECRET, bot_token=TOKEN, post_interval=0)
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        app = build_slack_app(core.router, options, client_base_url=fake.api_url)
        async with serve_bolt(app) as url, aiohttp.ClientSession() as session:
            yield Slack(fake, core, url, session)
    await core.close()


def buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["accessory"] for b in post["blocks"] if "accessory" in b]


async def test_every_story_carries_a_sources_button_and_pressing_it_answers_privately(
    slack: Slack,
) -> None:
    post = await slack.command("")
    assert check_blocks(post["blocks"]) is None
    stories = [b for b in post["blocks"] if b["type"] == "section"]
    assert len(buttons(post)) == len(stories) == 3
    grain = next(b for b in stories if "Istanbul" in b["text"]["text"])
    button = grain["accessory"]
    assert button["type"] == "button" and button["action_id"] == "briefbot_story"
    # The sample "wire" article about the same talks joins the three outlets' story.
    assert button["text"] == {"type": "plain_text", "text": "Sources (4)"}

    status, [answer] = await slack.press(button["value"])
    assert status == 200
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert answer["_ok"], "Block Kit limits"
    text = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    for n in range(len(GRAIN)):
        assert f"https://outlet{n}.example/grain" in text
    assert "*Harbour Times*" in text and "*Daily Ledger*" in text and "*wire*" in text
    # Feed text stays inert: the outlet and the headline arrive escaped.
    assert "<!channel>" not in str(answer) and "&lt;!channel&gt; Wire" in text
    summary = answer["blocks"][0]["text"]["text"].split("\n", 1)[1]
    assert 3 < summary.count(". ") + 1 <= 6  # longer than the briefing's, at most 6
    assert "Sources (4)" in str(answer["blocks"][1])
    assert "Story 1:" in answer["blocks"][0]["text"]["text"]  # its place in the briefing


async def test_briefing_story_n_gives_the_same_answer_as_the_button(slack: Slack) -> None:
    post = await slack.command("")
    order = [b["accessory"]["value"] for b in post["blocks"] if "accessory" in b]
    second = await slack.command("story 2")
    _, [pressed] = await slack.press(order[1])
    assert second["response_type"] == "ephemeral"
    assert second["blocks"] == pressed["blocks"]
    assert "Story 2:" in second["blocks"][0]["text"]["text"]


async def test_unknown_story_bad_number_and_forged_press(slack: Slack) -> None:
    none_yet = await slack.command("story 1")
    assert "no briefing in this channel yet" in none_yet["text"]
    await slack.command("")
    too_far = await slack.command("story 7")
    assert "The last briefing here had 3 stories: pick a number from 1 to 3." in too_far["text"]
    status, [gone] = await slack.press("987654")
    assert status == 200 and gone["response_type"] == "ephemeral"
    assert gone["text"] == GONE
    status, [junk] = await slack.press("not-a-number")
    assert junk["text"] == GONE
    # A press without a valid signature never reaches the bot.
    responses = len(slack.fake.responses)
    status, _ = await slack.press("1", bad=True)
    assert status == 401 and len(slack.fake.responses) == responses


async def test_a_pruned_story_gets_a_clear_answer(slack: Slack) -> None:
    post = await slack.command("")
    await slack.core.db.articles.prune(datetime.now(UTC) + timedelta(days=1))
    _, [gone] = await slack.press(buttons(post)[0]["value"])
    assert gone["text"] == GONE
    assert (await slack.command("story 1"))["text"] == GONE


async def test_the_terminal_answers_briefing_story_in_text(tmp_path: Path) -> None:
    core = await open_core(test_settings(tmp_path))
    try:
        await core.pipeline.ingest("test", [*ARTICLES, *grain_drafts()])
        console = ConsoleHarness(core.router)
        briefing = await console.command("/briefing")
        number = next(line for line in briefing.splitlines() if "Istanbul" in line)[0]
        out = await console.command(f"/briefing story {number}")
        assert out.startswith(f"Story {number}: ")
        assert "Sources (4):" in out and "• wire — " in out
        for n, (source, title) in enumerate(GRAIN):
            assert f"• {source} — {title} (" in out
            assert f"  https://outlet{n}.example/grain" in out
        assert "/briefing story <n>" in await console.command("/briefing help")
        # A muted outlet stays muted in the drill-down too.
        await console.command("/briefing mute source Daily Ledger")
        out = await console.command(f"/briefing story {number}")
        assert "Sources (3):" in out and "Daily Ledger" not in out
    finally:
        await core.close()
