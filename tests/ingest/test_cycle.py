"""A feed-polling cycle: who is polled first, and what is recorded when the feeds'
states are written together."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.service.core import Core, open_core
from bot.store import batch
from bot.store.schema import articles
from bot.store.schema import feeds as feeds_table
from tests.support import serve_app

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
    "<link>http://x/</link><description>d</description><item><title>{name} one</title>"
    "<guid>{name}-1</guid><link>http://x/{name}/1</link><description>t</description></item>"
    "</channel></rss>"
)


@pytest.fixture
async def local_core(settings: Settings) -> AsyncIterator[Core]:
    # One fetch at a time: the order the server sees is the order of the polls.
    sources = dataclasses.replace(
        settings.sources, allow_private_networks=True, global_concurrency=1
    )
    core = await open_core(dataclasses.replace(settings, sources=sources))
    try:
        yield core
    finally:
        await core.close()


@pytest.fixture
async def site() -> AsyncIterator[tuple[str, list[str]]]:
    """Feeds /f/<name>; /old/<name> moved permanently to /f/moved; the paths asked for,
    in order."""
    asked: list[str] = []

    async def feed(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(
            text=RSS.format(name=request.match_info["name"]), content_type="application/rss+xml"
        )

    async def moved(request: web.Request) -> web.Response:
        asked.append(request.path)
        raise web.HTTPMovedPermanently("/f/moved")

    app = web.Application()
    app.router.add_get("/f/{name}", feed)
    app.router.add_get("/old/{name}", moved)
    async with serve_app(app) as base:
        yield base, asked


async def test_the_most_overdue_feeds_are_leased_and_polled_first(
    local_core: Core, site: tuple[str, list[str]]
) -> None:
    core = local_core
    base, asked = site
    # Ids in one order, due times in the opposite: feed "e" is the most overdue.
    due = {"a": 1, "b": 5, "c": 20, "d": 40, "e": 90}
    for name, minutes in due.items():
        feed_id, _ = await core.db.feeds.add(f"{base}/f/{name}")
        state = await core.db.feeds.by_id(feed_id)
        assert state is not None
        await core.db.feeds.record(
            dataclasses.replace(state, next_fetch_at=NOW - timedelta(minutes=minutes))
        )
    await core.db.feeds.add(f"{base}/f/new")  # never polled: before every other
    leased = await core.db.feeds.lease_due("worker-a", NOW, limit=3)
    assert [s.url.rsplit("/", 1)[1] for s in leased] == ["new", "e", "d"]
    await core.db.feeds.record_many(leased)  # back, unchanged (still due)
    ingest = core.feed_ingest()
    await ingest.run_once(now=NOW, batch=2)
    assert asked == [f"/f/{name}" for name in ("new", "e", "d", "c", "b", "a")]


async def test_feed_states_are_written_together_and_each_lease_is_released(
    local_core: Core, site: tuple[str, list[str]]
) -> None:
    """Two feeds that moved to one URL cannot both take it: the one recorded second keeps
    its URL and says why, and the cycle's other feeds are recorded as usual."""
    core = local_core
    base, _ = site
    for path in ("/f/a", "/old/x", "/old/y", "/f/b"):
        await core.db.feeds.add(base + path)
    report = await core.feed_ingest().run_once(now=NOW)
    assert report.feeds == 4 and report.seen_on_first_run == 4
    feeds = {f.url.removeprefix(base): f for f in await core.db.feeds.all()}
    assert {"/f/a", "/f/b", "/f/moved"} < set(feeds) and len(feeds) == 4
    kept = [f for url, f in feeds.items() if url.startswith("/old/")]
    assert len(kept) == 1 and (kept[0].last_error or "").startswith("store: ")
    assert all(f.last_fetch_at is not None for url, f in feeds.items() if url.startswith("/f/"))
    async with core.db.engine.connect() as conn:  # no lease left behind
        owners = (await conn.execute(select(feeds_table.c.lease_owner))).scalars().all()
    assert set(owners) == {None}


async def test_polls_are_stored_together_and_a_feed_that_fails_costs_only_itself(
    local_core: Core,
    site: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cycle's polls are written in one transaction; when it fails, the pipeline
    writes each feed alone, and only the one that fails again keeps its old state
    (fetched anew next time, so nothing is lost), logged with its traceback."""
    core = local_core
    base, _ = site
    ids = [(await core.db.feeds.add(f"{base}/f/{name}", backfill=10))[0] for name in "abc"]
    real = batch.write_articles
    calls: list[list[str]] = []

    async def flaky(engine: AsyncEngine, writes: Sequence[batch.Write]) -> list[batch.Written]:
        keys = [w.draft.key.rsplit("/", 1)[1] for w in writes]  # guids, resolved
        calls.append(keys)
        if "b-1" in keys:
            raise RuntimeError("disk full")
        return await real(engine, writes)

    monkeypatch.setattr(batch, "write_articles", flaky)
    report = await core.feed_ingest().run_once(now=NOW)
    assert sorted(calls[0]) == ["a-1", "b-1", "c-1"]  # together first, then one by one
    assert sorted(map(tuple, calls[1:])) == [("a-1",), ("b-1",), ("c-1",)]
    assert report.stats.new == 2 and report.errors == [(f"{base}/f/b", "store: RuntimeError")]
    assert report.stats.failed == {f"feed:{ids[1]}": "RuntimeError"}
    failed = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in failed] == [f"ingest: origin=feed:{ids[1]} failed to store"]
    assert failed[0].exc_info is not None and "disk full" in str(failed[0].exc_info[1])
    feeds = {f.url.removeprefix(base): f for f in await core.db.feeds.all()}
    assert feeds["/f/b"].last_fetch_at is None and feeds["/f/b"].body_hash is None
    assert feeds["/f/b"].last_error == "store: RuntimeError"
    assert all(feeds[u].last_fetch_at and not feeds[u].last_error for u in ("/f/a", "/f/c"))
    async with core.db.engine.connect() as conn:
        titles = (await conn.execute(select(articles.c.title))).scalars().all()
    assert sorted(titles) == ["a one", "c one"]
