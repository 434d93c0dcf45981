"""The store on a real SQLite file and a real PostgreSQL, with the same tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.models import ArticleDraft, ChannelRef
from bot.core.ports import SaveOutcome
from bot.store.db import Database, open_database
from bot.store.leader import Leadership

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = await open_database(url)
    try:
        yield database
    finally:
        await database.close()


def draft(
    key: str, title: str = "Dam opens", text: str = "The dam opened.", **kw: object
) -> ArticleDraft:
    values: dict[str, object] = {
        "source": "Example",
        "key": key,
        "title": title,
        "text": text,
        "published_at": NOW,
        "url": f"https://example.org/{key}",
    }
    values.update(kw)
    return ArticleDraft(**values)  # type: ignore[arg-type]


async def test_migrations_are_idempotent(db: Database) -> None:
    from bot.store import migrate

    url = db.engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, url)
    assert await db.feeds.all() == []


async def test_save_new_unchanged_updated(db: Database) -> None:
    first = await db.articles.save(draft("a"), "feed:1", "Sum.", "h1")
    assert first.outcome is SaveOutcome.NEW
    again = await db.articles.save(draft("a"), "feed:1", None, "h1")
    assert (again.id, again.outcome) == (first.id, SaveOutcome.UNCHANGED)
    edited = await db.articles.save(
        draft("a", title="Dam opens early", published_at=NOW + timedelta(hours=1)),
        "feed:1",
        None,
        "h1",
    )
    assert (edited.id, edited.outcome) == (first.id, SaveOutcome.UPDATED)
    story_id = await db.articles.new_story(first.id, "Dam opens early", "Sum.")
    (story,) = await db.articles.stories_between(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert story.id == story_id
    assert story.articles[0].summary == "Sum."  # kept: the content did not change
    assert story.articles[0].title == "Dam opens early"


async def test_tombstones_never_repost(db: Database) -> None:
    saved = await db.articles.save(draft("gone"), "feed:1", "S", "h-gone")
    assert await db.articles.forget("feed:1", ["gone"]) == 1
    back = await db.articles.save(draft("gone"), "feed:1", "S", "h-gone")
    assert back.outcome is SaveOutcome.UNCHANGED and back.id != saved.id
    assert await db.articles.count_between(NOW - timedelta(days=1), NOW + timedelta(days=1)) == 0


async def test_same_article_from_two_feeds_is_stored_once(db: Database) -> None:
    one = await db.articles.save(draft("x", url="https://example.org/same"), "feed:1", "S", "hx")
    two = await db.articles.save(draft("y", url="https://example.org/same"), "feed:2", "S", "hy")
    assert one.outcome is SaveOutcome.NEW and two.outcome is SaveOutcome.UNCHANGED
    assert one.id == two.id
    by_hash = await db.articles.save(draft("z", url=None), "feed:3", "S", "hx")
    assert by_hash.id == one.id
    assert set(await db.articles.keys("feed:2")) == {"y"}


async def test_a_batch_of_new_articles_maps_each_key_to_its_own_row(db: Database) -> None:
    """Many rows in one INSERT, after a deletion left a gap in the ids: every key still
    reaches the article with its own title."""
    from sqlalchemy import select

    from bot.ingest.pipeline import content_hash
    from bot.store import batch
    from bot.store.schema import articles

    first = [draft(f"a{n}", title=f"Story {n}", text=f"Body {n}.") for n in range(5)]
    await batch.write_articles(
        db.engine, [batch.Write(d, content_hash(d), "S", None, "feed:1") for d in first]
    )
    await db.articles.prune(NOW + timedelta(days=1))  # deletes them: ids are reused or skip
    drafts = [draft(f"k{n}", title=f"Title {n}", text=f"Text {n}.") for n in range(700)]
    written = await batch.write_articles(
        db.engine, [batch.Write(d, content_hash(d), "S", None, "feed:2") for d in drafts]
    )
    assert [w.draft.key for w in written] == [d.key for d in drafts]
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(articles.c.id, articles.c.title))
        titles = {r.id: r.title for r in rows}
    assert all(titles[w.article_id] == w.draft.title for w in written)


async def test_seen_keys_are_tombstones(db: Database) -> None:
    assert await db.articles.mark_seen("feed:9", ["old1", "old2", "old1"]) == 2
    saved = await db.articles.save(draft("old1"), "feed:9", "S", "h")
    assert saved.outcome is SaveOutcome.UNCHANGED


async def test_feed_leases_do_not_overlap(db: Database) -> None:
    for n in range(10):
        await db.feeds.add(f"https://example.org/{n}.xml")
    a, b = await asyncio.gather(
        db.feeds.lease_due("worker-a", NOW, limit=6), db.feeds.lease_due("worker-b", NOW, limit=6)
    )
    ids_a, ids_b = {s.id for s in a}, {s.id for s in b}
    assert not ids_a & ids_b
    assert len(ids_a | ids_b) == 10
    assert await db.feeds.lease_due("worker-c", NOW) == []
    later = await db.feeds.lease_due("worker-c", NOW + timedelta(minutes=10))
    assert len(later) == 10  # leases expire: a crashed worker's feeds come back


async def test_delivery_claim_is_exclusive(db: Database) -> None:
    channel_id = await db.channels.row_id(ChannelRef("slack", "C1", "T1"))
    claims = await asyncio.gather(*(db.deliveries.claim(channel_id, "slot-1") for _ in range(5)))
    assert sum(c is not None for c in claims) == 1
    won = next(c for c in claims if c is not None)
    await db.deliveries.mark_sent(won.id, ["m1"], [])
    got = await db.deliveries.get(channel_id, "slot-1")
    assert got is not None and got.status == "sent" and got.message_ids == ("m1",)


async def test_one_scheduler_leader(db: Database) -> None:
    first, second = Leadership(db.engine), Leadership(db.engine)
    try:
        assert await first.try_acquire()
        if db.dialect == "postgresql":
            assert not await second.try_acquire()
            await first.release()
            assert await second.try_acquire()
    finally:
        await first.release()
        await second.release()


async def test_prune_keeps_tombstones(db: Database) -> None:
    old = await db.articles.save(
        draft("old", published_at=NOW - timedelta(days=40)), "feed:1", "S", "h-old"
    )
    await db.articles.new_story(old.id, "Old", "S")
    fresh = await db.articles.save(draft("fresh"), "feed:1", "S", "h-fresh")
    await db.articles.new_story(fresh.id, "Fresh", "S")
    assert await db.articles.prune(NOW - timedelta(days=30)) == 1
    keys = await db.articles.keys("feed:1")
    assert keys == {"old": None, "fresh": fresh.id}
    again = await db.articles.save(
        draft("old", published_at=NOW - timedelta(days=40)), "feed:1", "S", "h-old"
    )
    assert again.outcome is SaveOutcome.UNCHANGED  # the pruned item never returns as new
    window = await db.articles.stories_between(NOW - timedelta(days=60), NOW + timedelta(days=1))
    assert [s.title for s in window] == ["Fresh"]


async def test_migrations_match_the_schema(db: Database) -> None:
    """Alembic's autogenerate finds nothing to add: schema.py and the revisions agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.store.schema import metadata

    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with db.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    ours = [c for c in changes if "slack_" not in repr(c)]
    assert ours == []


async def test_a_follower_takes_over_when_the_leader_dies(postgres_url: str) -> None:
    """Two processes on one PostgreSQL: the follower's scheduler starts posting digests
    only once the leader's connection (and with it the advisory lock) is gone."""
    from bot.service.scheduler import Scheduler

    first_db, second_db = await open_database(postgres_url), await open_database(postgres_url)
    leader, follower = Leadership(first_db.engine), Leadership(second_db.engine)
    led: list[str] = []

    async def lead() -> None:
        led.append("follower")

    try:
        assert await leader.try_acquire()
        assert not await follower.try_acquire()
        scheduler = Scheduler(None, leader=follower.is_leader)
        assert not await scheduler.contend(follower.try_acquire, lead)
        assert led == []
        # The leader's process dies: its database connection goes, and the lock with it.
        assert leader._conn is not None
        await leader._conn.invalidate()
        await first_db.close()
        # The server frees the lock once it sees the socket close: contend as the
        # runtime does (it retries every minute), here every 0.1 s for up to 10 s.
        for _ in range(100):
            if await scheduler.contend(follower.try_acquire, lead):
                break
            await asyncio.sleep(0.1)
        assert scheduler.leader and led == ["follower"]
    finally:
        await follower.release()
        await second_db.close()


async def test_a_big_story_summary_reads_its_first_and_latest_members(db: Database) -> None:
    """A story that gains an article hands back, for its headline and summary, only its
    earliest and latest members (SUMMARY_MEMBERS_EACH_END each), in publication order:
    a 30-member story gives 24, the middle six left out."""
    from bot.ingest.pipeline import content_hash
    from bot.store import batch

    drafts = [
        draft(
            f"m{n}", title=f"Member {n}", text=f"Body {n}.", published_at=NOW + timedelta(minutes=n)
        )
        for n in range(30)
    ]
    written = await batch.write_articles(
        db.engine, [batch.Write(d, content_hash(d), "S", None, "feed:1") for d in drafts]
    )
    ids = [w.article_id for w in written]
    story = await db.articles.new_story(ids[0], "Member 0", "S")
    joins = [batch.StoryJoin(a, story, 0, f"Member {n}", "S") for n, a in enumerate(ids)][1:]
    _, members = await batch.write_stories(db.engine, joins)
    each = batch.SUMMARY_MEMBERS_EACH_END
    assert each == 12
    expected = ids[:each] + ids[-each:]
    assert [a.id for a in members[story]] == expected
    assert [a.title for a in members[story]][each - 1 : each + 1] == ["Member 11", "Member 18"]
    # An edit refreshes the story's texts from the same members (Pipeline._refresh_story).
    assert [a.id for a in await batch.summary_members(db.engine, story)] == expected
    whole = await db.articles.story(story)
    assert whole is not None and len(whole.articles) == 30  # all of them stay members
