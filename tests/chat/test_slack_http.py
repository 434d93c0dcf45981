"""HTTP mode end to end: signed slash commands into the real AsyncApp and the real core.

Slack is a loopback fake (tests/fakes/slack_api.py); the app is served on 127.0.0.1
exactly as in production (Bolt's aiohttp server), and the core is ``open_core`` on a
SQLite file with articles ingested through the real pipeline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chat.slack import SlackOptions, build_slack_app, start_slack
from bot.config import test_settings
from bot.core.models import ChannelRef, IncomingCommand, Reply
from bot.service.core import Core, open_core
from tests.fakes.slack_api import (
    ARTICLES,
    FakeSlack,
    check_blocks,
    draft,
    form,
    serve_bolt,
    signed,
    slash_payload,
)

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-1"
EVIL_ESCAPED = "Hello &lt;!channel&gt; @everyone &lt;https://evil|click&gt;"


class CountingRouter:
    """The real router, counting what reaches it (to prove rejected requests never do)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.seen: list[IncomingCommand] = []

    async def dispatch(self, cmd: IncomingCommand) -> Reply:
        self.seen.append(cmd)
        return await self.core.router.dispatch(cmd)


@dataclass
class Harness:
    fake: FakeSlack
    core: Core
    router: CountingRouter
    url: str
    session: aiohttp.ClientSession
    responses_seen: int = 0

    async def post(
        self, text: str, *, user: str = "UADMIN", **signing: Any
    ) -> aiohttp.ClientResponse:
        body = form(slash_payload(text, user=user, response_url=self.fake.response_url()))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(signed(SECRET, body, **signing))
        async with self.session.post(self.url + "/slack/events", data=body, headers=headers) as r:
            await r.read()
            return r

    async def ask(self, text: str, *, user: str = "UADMIN") -> dict[str, Any]:
        """Send ``/briefing text`` and return the next thing the user sees."""
        posts_before = len(self.fake.posts())
        responses_before = len(self.fake.responses)
        response = await self.post(text, user=user)
        assert response.status == 200
        await self.fake.wait_for(
            lambda: (
                len(self.fake.posts()) > posts_before or len(self.fake.responses) > responses_before
            )
        )
        if len(self.fake.responses) > responses_before:
            return self.fake.responses[responses_before]
        return self.fake.posts()[posts_before].args


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = test_settings(tmp_path, sources={"allow_private_networks": True})
    core = await open_core(settings)
    await core.pipeline.ingest("test", ARTICLES)
    router = CountingRouter(core)
    options = SlackOptions(
        mode="http",
        signing_secret=SECRET,
        bot_token=TOKEN,
        admin_user_ids=frozenset({"UCONFIGURED"}),
        post_interval=0,
    )
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN, admins={"UADMIN"})
        app = build_slack_app(router, options, client_base_url=fake.api_url)
        async with serve_bolt(app) as url, aiohttp.ClientSession() as session:
            yield Harness(fake, core, router, url, session)
    await core.close()


async def test_signed_briefing_is_acked_in_time_and_posted_in_channel(harness: Harness) -> None:
    started = time.monotonic()
    response = await harness.post("")
    elapsed = time.monotonic() - started
    assert response.status == 200
    assert elapsed < 3.0  # Slack's protocol limit for the ack, not a performance target
    await harness.fake.wait_for(lambda: harness.fake.posts())
    [post] = harness.fake.posts()
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.args["channel"] == "C1"
    blocks = post.args["blocks"]
    assert check_blocks(blocks) is None
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"].startswith("Briefing — ")
    assert "grain corridor" in str(blocks)
    assert post.args["text"]  # the plain-text fallback
    assert harness.router.seen[0].workspace == "T1" and harness.router.seen[0].can_manage


async def test_feed_markup_is_inert_in_the_posted_payload(harness: Harness) -> None:
    await harness.ask("")
    [post] = harness.fake.posts()
    sections = [b["text"]["text"] for b in post.args["blocks"] if b["type"] == "section"]
    evil = [s for s in sections if "everyone" in s]
    assert evil and evil[0].startswith(f"*<https://wire.example/3|{EVIL_ESCAPED}>*\n")
    assert "<!channel>" not in str(post.args) and "<https://evil" not in str(post.args)
    assert f"• {EVIL_ESCAPED}" in post.args["text"]


async def test_bad_signature_and_stale_timestamp_get_401_and_nothing_runs(
    harness: Harness,
) -> None:
    assert (await harness.post("subscribe https://a.example/rss", bad=True)).status == 401
    assert (await harness.post("subscribe https://b.example/rss", age=6 * 60)).status == 401
    # A good request afterwards is the only one that reaches the core or Slack.
    await harness.ask("help")
    assert [c.text for c in harness.router.seen] == ["help"]
    assert not harness.fake.calls_to("chat.postMessage")
    assert await harness.core.subscriptions.feeds(ChannelRef("slack", "C1", "T1")) == []


async def test_help_is_ephemeral(harness: Harness) -> None:
    reply = await harness.ask("help")
    assert reply["response_type"] == "ephemeral"
    assert "How to use /briefing" in reply["text"]
    assert reply["_ok"]


async def test_topic_words_filter_the_briefing(harness: Harness) -> None:
    post = await harness.ask("ukraine")
    assert post["blocks"][0]["text"]["text"].startswith("Briefing on “ukraine”")
    text = str(post["blocks"])
    assert "grain corridor" in text and "interest rates" not in text


async def test_last_window_limits_the_briefing(harness: Harness) -> None:
    wide = await harness.ask("last 2d")
    assert "interest rates" in str(wide["blocks"])
    narrow = await harness.ask("last 6h")
    assert "grain corridor" in str(narrow["blocks"])
    assert "interest rates" not in str(narrow["blocks"])  # published 10 h ago


async def test_unknown_window_is_an_ephemeral_error(harness: Harness) -> None:
    reply = await harness.ask("last fortnight")
    assert reply["response_type"] == "ephemeral"
    assert "didn't understand" in reply["text"]


async def test_subscribe_feeds_unsubscribe(harness: Harness) -> None:
    feed_url = "http://127.0.0.1:8/feed.xml"  # loopback: allowed by allow_private_networks
    reply = await harness.ask(f"subscribe {feed_url}")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith(f"Subscribed this channel to {feed_url}")
    ref = ChannelRef("slack", "C1", "T1")
    assert [f.url for f in await harness.core.subscriptions.feeds(ref)] == [feed_url]

    listing = await harness.ask("feeds")
    assert "Feeds of this channel" in listing["text"] and feed_url in listing["text"]

    reply = await harness.ask(f"unsubscribe {feed_url}")
    assert reply["text"] == f"Unsubscribed this channel from {feed_url}."
    assert await harness.core.subscriptions.feeds(ref) == []


async def test_non_admin_subscribe_is_refused_politely(harness: Harness) -> None:
    reply = await harness.ask("subscribe http://127.0.0.1:8/feed.xml", user="UMEMBER")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Sorry, only admins can change")
    assert await harness.core.subscriptions.feeds(ChannelRef("slack", "C1", "T1")) == []
    [lookup] = harness.fake.calls_to("users.info")
    assert lookup.args["user"] == "UMEMBER"


async def test_configured_user_ids_may_manage_without_slack_admin(harness: Harness) -> None:
    reply = await harness.ask("topics add energy", user="UCONFIGURED")
    assert reply["text"] == "Topics of this channel: energy"
    assert not harness.fake.calls_to("users.info")  # no lookup needed


async def test_topics_add_and_remove(harness: Harness) -> None:
    reply = await harness.ask("topics add ukraine energy")
    assert reply["text"] == "Topics of this channel: ukraine, energy"
    reply = await harness.ask("topics remove energy")
    assert reply["text"] == "Topics of this channel: ukraine"
    settings = await harness.core.db.channels.channel(ChannelRef("slack", "C1", "T1"))
    assert settings.topics == ("ukraine",)
    assert len(harness.fake.calls_to("users.info")) == 1  # admin status is cached


async def test_schedule_and_schedule_off(harness: Harness) -> None:
    ref = ChannelRef("slack", "C1", "T1")
    reply = await harness.ask("schedule weekdays 08:00 Europe/Kyiv")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Digest scheduled:") and "Europe/Kyiv" in reply["text"]
    settings = await harness.core.db.channels.channel(ref)
    assert settings.schedule and settings.timezone == "Europe/Kyiv"

    reply = await harness.ask("schedule off")
    assert reply["text"] == "Scheduled digests are off for this channel."
    assert (await harness.core.db.channels.channel(ref)).schedule is None


async def test_settings_subcommand(harness: Harness) -> None:
    await harness.ask("topics add ukraine")
    reply = await harness.ask("settings")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Settings of this channel:")
    assert "topics: ukraine" in reply["text"] and "digest schedule: off" in reply["text"]


async def test_rate_limited_post_is_retried_and_lands(harness: Harness) -> None:
    harness.fake.fail_next("chat.postMessage", 429, retry_after=0)
    await harness.ask("")
    calls = harness.fake.calls_to("chat.postMessage")
    assert len(calls) == 2 and len(harness.fake.posts()) == 1
    assert check_blocks(harness.fake.posts()[0].args["blocks"]) is None


async def test_private_channel_without_the_bot_falls_back_to_response_url(
    harness: Harness,
) -> None:
    harness.fake.fail_next("chat.postMessage", error="not_in_channel")
    reply = await harness.ask("")
    assert reply["response_type"] == "in_channel" and reply["_ok"]
    assert reply["blocks"][0]["type"] == "header"


async def test_other_post_errors_tell_the_user_ephemerally(harness: Harness) -> None:
    harness.fake.fail_next("chat.postMessage", error="is_archived")
    reply = await harness.ask("")
    assert reply["response_type"] == "ephemeral"
    assert "is_archived" in reply["text"]


async def test_start_slack_serves_http_on_the_configured_host(tmp_path: Path) -> None:
    core = await open_core(test_settings(tmp_path))
    await core.pipeline.ingest("test", ARTICLES[:1])
    options = SlackOptions(
        mode="http", host="127.0.0.1", port=0, signing_secret=SECRET, bot_token=TOKEN
    )
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        app = build_slack_app(core.router, options, client_base_url=fake.api_url)
        running = await start_slack(app, options)
        try:
            assert running.port
            body = form(slash_payload("help", response_url=fake.response_url()))
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            headers.update(signed(SECRET, body))
            url = f"http://127.0.0.1:{running.port}/slack/events"
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=body, headers=headers) as response,
            ):
                assert response.status == 200
            await fake.wait_for(lambda: fake.responses)
            assert "How to use /briefing" in fake.responses[0]["text"]
        finally:
            await running.stop()
    await core.close()


class BrokenRouter:
    """Stands in for a core that fails in an unexpected way (the router itself never
    raises for user input; this checks the adapter's own last line of defence)."""

    async def dispatch(self, cmd: IncomingCommand) -> Reply:
        raise RuntimeError("database file is locked: /secret/path")


async def test_unexpected_failure_gets_a_short_ephemeral_apology() -> None:
    options = SlackOptions(mode="http", signing_secret=SECRET, bot_token=TOKEN, post_interval=0)
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        app = build_slack_app(BrokenRouter(), options, client_base_url=fake.api_url)
        async with serve_bolt(app) as url, aiohttp.ClientSession() as session:
            body = form(slash_payload("", user="UMEMBER", response_url=fake.response_url()))
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            headers.update(signed(SECRET, body))
            async with session.post(url + "/slack/events", data=body, headers=headers) as r:
                assert r.status == 200
            await fake.wait_for(lambda: fake.responses)
    [reply] = fake.responses
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Sorry, something went wrong")
    assert "secret" not in reply["text"] and not fake.posts()


async def test_a_failed_admin_lookup_is_cached_like_an_answer(harness: Harness) -> None:
    """users.info failing costs one call and one warning, not one per command."""
    harness.fake.fail_next("users.info", error="user_not_found")
    for _ in range(3):
        reply = await harness.ask("feeds", user="UNKNOWN")
        assert "only admins" in reply["text"]
    assert len(harness.fake.calls_to("users.info")) == 1


async def test_help_uses_slacks_syntax(harness: Harness) -> None:
    reply = await harness.ask("help")
    assert "`/briefing subscribe &lt;feed url&gt;`" in reply["text"]
    assert "`/briefing last 6h`" in reply["text"]
    assert "briefing-admin" not in reply["text"] and "since:" not in reply["text"]


async def test_mute_a_word_and_an_outlet_over_signed_requests(harness: Harness) -> None:
    await harness.core.pipeline.ingest(
        "other", [draft(4, "Harvest festival draws crowds", "A harvest story. " * 10, 1, "other")]
    )
    reply = await harness.ask("mute Grain")
    assert reply["response_type"] == "ephemeral" and "Muted words: grain" in reply["text"]
    post = await harness.ask("")
    text = str(post["blocks"])
    assert "grain corridor" not in text and "Harvest festival" in text
    await harness.ask("mute source other")
    post = await harness.ask("last 2d")
    text = str(post["blocks"])
    assert "Harvest festival" not in text and "interest rates" in text
    settings = await harness.ask("settings")
    assert "muted words: grain" in settings["text"]
    assert "muted outlets: other" in settings["text"]
    await harness.ask("unmute grain")
    assert "grain corridor" in str((await harness.ask(""))["blocks"])
    refused = await harness.ask("mute rates", user="UMEMBER")
    assert "only admins" in refused["text"]
