"""Channels hear once when a feed they follow starts failing, once when it recovers, and
once when polling stops after `disable_after_days`; `/briefing feeds retry` brings it
back. A real poll cycle against a loopback feed; notices through the real Slack client
into the fake Slack, with hostile text kept inert."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.console import ConsoleHarness
from bot.chat.slack_render import SlackPublisher
from bot.config import Settings
from bot.core.models import ChannelRef
from bot.service.core import Core, open_core
from bot.service.runtime import ChannelNotifier
from tests.fakes.slack_api import FakeSlack
from tests.support import serve_app

TOKEN = "xoxb-health"
REF = ChannelRef("slack", "CNEWS", "T1")
RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour</title>'
    "<link>http://x/</link><description>d</description><item><title>One</title>"
    "<guid>h-1</guid><link>http://x/1</link><description>t</description></item>"
    "</channel></rss>"
)


@pytest.fixture
async def feed_site() -> AsyncIterator[tuple[str, dict[str, int]]]:
    mode = {"status": 500}

    async def feed(_request: web.Request) -> web.Response:
        if mode["status"] == 200:
            return web.Response(text=RSS, content_type="application/rss+xml")
        return web.Response(status=mode["status"], text="trouble")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    async with serve_app(app) as base:
        yield f"{base}/feed.xml", mode


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        yield fake


@pytest.fixture
async def local_core(settings: Settings) -> AsyncIterator[Core]:
    sources = dataclasses.replace(settings.sources, allow_private_networks=True)
    core = await open_core(dataclasses.replace(settings, sources=sources))
    try:
        yield core
    finally:
        await core.close()


def notices(fake: FakeSlack) -> list[str]:
    return [str(c.args["text"]) for c in fake.posts() if c.args.get("channel") == "CNEWS"]


async def test_failing_recovered_and_stopped_feeds_are_told_once_each(
    local_core: Core, slack: FakeSlack, feed_site: tuple[str, dict[str, int]]
) -> None:
    core = local_core
    url, mode = feed_site
    feed_id, _ = await core.db.feeds.add(url)
    state = await core.db.feeds.by_id(feed_id)
    assert state is not None
    await core.db.feeds.record(dataclasses.replace(state, title="Harbour <!channel> @everyone"))
    await core.db.channels.subscribe(REF, feed_id)
    ingest = core.feed_ingest()
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    ingest.health.notifier = ChannelNotifier({"slack": SlackPublisher(client, post_interval=0)})
    clock = datetime.now(UTC)

    async def poll() -> None:
        nonlocal clock
        clock += timedelta(days=1)  # past any backoff: the feed is due
        report = await ingest.run_once(now=clock)
        assert report.feeds == 1

    for _ in range(2):
        await poll()
    assert notices(slack) == []  # two failures: not yet
    await poll()
    (failing,) = notices(slack)
    assert failing.startswith("⚠ Feed [1] Harbour &lt;!channel&gt; @everyone has been failing")
    assert "HTTP 500, server error" in failing
    assert "<!channel>" not in failing
    await poll()
    assert len(notices(slack)) == 1  # still failing: no second notice

    mode["status"] = 200
    await poll()
    assert notices(slack)[-1].startswith("✅ Feed [1] Harbour")
    assert "works again" in notices(slack)[-1]
    await poll()
    assert len(notices(slack)) == 2

    mode["status"] = 404  # an answer that will not change by itself: told at once
    await poll()
    assert len(notices(slack)) == 3
    assert "HTTP 404, not found" in notices(slack)[-1]

    # Failing for longer than disable_after_days (14 by default): polling stops.
    state = await core.db.feeds.by_id(feed_id)
    assert state is not None
    await core.db.feeds.record(
        dataclasses.replace(state, failing_since=datetime.now(UTC) - timedelta(days=20))
    )
    await poll()
    stopped = notices(slack)[-1]
    assert stopped.startswith("⛔ Feed [1] Harbour")
    assert "failed for 14 days" in stopped and "/briefing feeds retry 1" in stopped
    clock += timedelta(days=1)
    assert (await ingest.run_once(now=clock)).feeds == 0  # no longer polled
    assert len(notices(slack)) == 4

    admin = ConsoleHarness(core.router, channel="ops")
    answer = await admin.command("/briefing feeds retry 1")
    assert "is back in the queue" in answer
    mode["status"] = 200
    await poll()
    refreshed = await core.db.feeds.by_id(feed_id)
    assert refreshed is not None
    assert (refreshed.gone, refreshed.last_error, refreshed.alert_state) == (False, None, None)
    assert len(notices(slack)) == 4  # a retried feed that works needs no notice
