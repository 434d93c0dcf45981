"""The status page as HTML: feeds with their health, channels with their next digest in
their own time zone and last deliveries, and previews; feed text is always escaped."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp

from bot.core.models import Briefing, BriefingItem, SourceLink
from bot.service.core import Core
from bot.service.ops import next_digest, status_snapshot
from bot.web.server import build_app
from bot.web.status import StatusSnapshot, render_status, status_page
from tests.support import serve_app
from tests.web.status_seed import CHANNEL, FAILING_ERROR, seed_status


class NoProbes:
    async def database_problem(self) -> str | None:
        return None

    def scheduler_role(self) -> str:
        return "leader"

    def adapter_problems(self) -> dict[str, str | None]:
        return {}

    async def refresh_gauges(self) -> None:
        return None


async def _get(core: Core, query: str = "") -> str:
    app = build_app(NoProbes(), status_page=status_page(status_snapshot(core)))
    async with (
        serve_app(app) as base,
        aiohttp.ClientSession() as http,
        http.get(f"{base}/{query}") as resp,
    ):
        assert resp.status == 200
        assert resp.content_type == "text/html"
        return await resp.text()


async def test_the_page_shows_feeds_channels_and_the_default_preview(core: Core) -> None:
    await seed_status(core)
    html = await _get(core)
    assert "Broken Gazette" in html
    assert FAILING_ERROR in html
    assert "4 in a row" in html
    # Hostile feed text is escaped, never markup.
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "console: newsroom" in html
    assert "Europe/Berlin" in html
    expected = next_digest("0 8 * * mon-fri", "Europe/Berlin", datetime.now(UTC))
    assert expected is not None
    assert expected.strftime("%a %d %b %H:%M %Z") in html
    assert (
        expected.tzinfo is not None
        and expected.utcoffset() == expected.astimezone(ZoneInfo("Europe/Berlin")).utcoffset()
    )
    briefing = await core.briefings.compose()
    assert briefing.items
    first = briefing.items[0].headline.replace("'", "&#39;").replace('"', "&#34;")
    assert first in html


async def test_a_channel_preview_and_a_topic_preview(core: Core) -> None:
    await seed_status(core)
    refs = await core.db.channels.refs_by_id()
    row_id = next(i for i, ref in refs.items() if ref == CHANNEL)
    html = await _get(core, f"?channel={row_id}")
    assert "Next digest for console: newsroom" in html
    html = await _get(core, "?topic=zzznothingmatches")
    assert "/briefing zzznothingmatches" in html
    assert "Nothing new in this window." in html


def test_feed_links_that_are_not_web_links_are_not_rendered_as_links() -> None:
    now = datetime.now(UTC)
    item = BriefingItem(
        headline="Click me",
        summary="s",
        url="javascript:alert(1)",
        published_at=now,
        sources=(SourceLink("Outlet <i>", None),),
    )
    briefing = Briefing(now, now, now, "UTC", (item,))
    snapshot = StatusSnapshot(generated_at=now, feeds=(), channels=(), preview=briefing)
    html = render_status(snapshot)
    assert "javascript:" not in html
    assert "Outlet &lt;i&gt;" in html
    safe = dataclasses.replace(item, url="https://example.org/a?b=1&c=2")
    fixed = dataclasses.replace(briefing, items=(safe,))
    html = render_status(dataclasses.replace(snapshot, preview=fixed))
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
