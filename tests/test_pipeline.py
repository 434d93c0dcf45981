"""The batched ingest: duplicates inside one batch, edits, and recovery of articles that
a crashed run stored without a story."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import ArticleDraft
from bot.errors import SummarizeError
from bot.ingest.pipeline import OriginDrafts, content_hash
from bot.service.core import Core
from bot.store import batch
from bot.store.schema import articles, stories

NOW = datetime.now(UTC) - timedelta(hours=1)
pipeline_log = "bot.ingest.pipeline"


def draft(key: str, title: str, url: str | None = None, **kw: object) -> ArticleDraft:
    values: dict[str, object] = {
        "source": "Desk",
        "key": key,
        "title": title,
        "text": f"{title}. The council met on Monday and voted on the plan for the harbour.",
        "published_at": NOW,
        "url": url,
    }
    values.update(kw)
    return ArticleDraft(**values)  # type: ignore[arg-type]


async def test_same_article_twice_in_one_batch_is_stored_once(core: Core) -> None:
    stats = await core.pipeline.ingest(
        "feed:1",
        [
            draft("a", "Harbour plan passes", "https://x.example/harbour"),
            draft("b", "Harbour plan passes", "https://x.example/harbour"),
            draft("a", "Harbour plan passes", "https://x.example/harbour"),  # repeated key
        ],
    )
    assert (stats.new, stats.unchanged) == (1, 2)
    keys = await core.db.articles.keys("feed:1")
    assert set(keys) == {"a", "b"} and keys["a"] == keys["b"]


async def test_edit_updates_story_headline(core: Core) -> None:
    await core.pipeline.ingest("feed:1", [draft("a", "Harbour plan passes")])
    edited = draft("a", "Harbour plan passes narrowly", published_at=NOW + timedelta(minutes=5))
    stats = await core.pipeline.ingest("feed:1", [edited])
    assert stats.updated == 1
    briefing = await core.briefings.compose()
    assert [i.headline for i in briefing.items] == ["Harbour plan passes narrowly"]


async def test_an_edit_refreshes_a_big_story_from_its_first_and_latest_members(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edited member remakes its story's headline and summary from the same capped
    members a joining article would (SUMMARY_MEMBERS_EACH_END at each end), not all 30."""
    from bot.ingest import pipeline
    from bot.text.story_summary import summarize_story

    drafts = [
        draft(f"m{n}", f"Member {n}", published_at=NOW + timedelta(minutes=n)) for n in range(30)
    ]
    written = await batch.write_articles(
        core.db.engine, [batch.Write(d, content_hash(d), "S", None, "feed:1") for d in drafts]
    )
    ids = [w.article_id for w in written]
    story = await core.db.articles.new_story(ids[0], "Member 0", "S")
    await batch.write_stories(
        core.db.engine, [batch.StoryJoin(a, story, 0, "S", "S") for a in ids[1:]]
    )
    read: list[list[str]] = []

    def recording(members: Sequence[tuple[str, str, str]], *args: int) -> tuple[str, str]:
        read.append([title for _, title, _ in members])
        return summarize_story(members, *args)

    monkeypatch.setattr(pipeline, "summarize_story", recording)
    edited = draft("m29", "Member 29 revised", published_at=NOW + timedelta(minutes=29))
    assert (await core.pipeline.ingest("feed:1", [edited])).updated == 1
    each = batch.SUMMARY_MEMBERS_EACH_END
    titles = [f"Member {n}" for n in [*range(each), *range(30 - each, 29)]]
    assert read == [[*titles, "Member 29 revised"]]


async def test_articles_left_without_a_story_are_grouped_on_restart(core: Core) -> None:
    orphan = draft("o", "Bridge reopens after repairs")
    written = await batch.write_articles(
        core.db.engine, [batch.Write(orphan, content_hash(orphan), "Summary.", None, "feed:2")]
    )
    assert written[0].story_id is None  # as if the process died before grouping
    assert (await core.briefings.compose()).items == ()
    core.pipeline._loaded = False  # a restarted process
    await core.pipeline.ingest("feed:3", [])
    briefing = await core.briefings.compose()
    assert [i.headline for i in briefing.items] == ["Bridge reopens after repairs"]


async def test_a_restarted_process_keeps_growing_the_same_story(core: Core) -> None:
    event = "The harbour council approved the new ferry terminal plan on Monday by nine votes."
    first = [
        draft("a", "Council approves ferry terminal", source="Coast News", text=event),
        draft("b", "Ferry terminal plan approved by council", source="Daily Tide", text=event),
    ]
    await core.pipeline.ingest("feed:1", first)
    core.pipeline._loaded = False  # a restarted process: the grouper is rebuilt from the store
    late = draft("c", "Harbour council backs ferry terminal", source="Port Post", text=event)
    await core.pipeline.ingest("feed:2", [late])
    briefing = await core.briefings.compose()
    assert len(briefing.items) == 1
    assert {s.name for s in briefing.items[0].sources} == {"Coast News", "Daily Tide", "Port Post"}


async def test_a_story_another_owner_removed_is_rebuilt_around_and_nothing_is_lost(
    core: Core,
) -> None:
    event = "The harbour council approved the new ferry terminal plan on Monday by nine votes."
    first = draft("a", "Council approves ferry terminal", text=event)
    await core.pipeline.ingest("feed:1", [first])
    # Meanwhile another process owned the grouping and merged that story away; this
    # process's grouper still holds it.
    async with core.db.engine.begin() as conn:
        story_id = (await conn.execute(select(articles.c.story_id))).scalar_one()
        await conn.execute(update(articles).values(story_id=None))
        await conn.execute(delete(stories).where(stories.c.id == story_id))
    late = draft("b", "Ferry terminal plan approved", source="Port Post", text=event)
    await core.pipeline.ingest("feed:2", [late])  # joins the gone story: the write fails
    briefing = await core.briefings.compose()
    assert len(briefing.items) == 1
    assert {s.name for s in briefing.items[0].sources} == {"Desk", "Port Post"}


async def test_a_restarted_grouper_learns_term_weights_from_the_stored_corpus(core: Core) -> None:
    old = NOW - timedelta(days=5)  # outside the story window, inside the corpus horizon
    await core.pipeline.ingest(
        "feed:1",
        [
            draft("a", "Council approves ferry terminal", published_at=old),
            draft("b", "Wildfire closes the coast road", published_at=old),
            draft("c", "Harbour plan passes"),
        ],
    )
    core.pipeline._loaded = False  # a restarted process
    await core.pipeline.ingest("feed:2", [])
    grouper = core.pipeline._grouper
    assert grouper.documents == 3  # two old articles observed, one open story loaded
    assert len(grouper) == 1  # only the open story is a candidate


class CountingSummarizer:
    def __init__(self) -> None:
        self.titles: list[str] = []

    def summarize(self, title: str, text: str) -> str:
        self.titles.append(title)
        return f"Summary of {title}."

    def summarize_many(self, items: Sequence[tuple[str, str]]) -> list[str]:
        return [self.summarize(title, text) for title, text in items]


async def test_only_drafts_stored_as_articles_are_summarised(core: Core) -> None:
    counting = CountingSummarizer()
    core.pipeline._summarizer = counting
    await core.pipeline.ingest("feed:1", [draft("a", "Harbour plan", url="https://x.test/a")])
    # Feed 2 carries the same article (one URL, one content) and a copy within itself.
    same = draft("b", "Harbour plan", url="https://x.test/a")
    copy = draft("c", "Harbour plan", url="https://x.test/a")
    stats = await core.pipeline.ingest("feed:2", [same, copy, draft("d", "Ferry news")])
    assert (stats.new, stats.unchanged) == (1, 2)
    assert counting.titles == ["Harbour plan", "Ferry news"]


class FailingBatchSummarizer(CountingSummarizer):
    """The batch call fails, and so does one article alone."""

    def summarize(self, title: str, text: str) -> str:
        if title == "Bad draft":
            raise SummarizeError("summarize: bad draft")
        return super().summarize(title, text)

    def summarize_many(self, items: Sequence[tuple[str, str]]) -> list[str]:
        raise SummarizeError("summarize: batch failed")


async def test_drafts_are_summarised_in_one_batch_and_one_by_one_when_it_fails(
    core: Core,
) -> None:
    failing = FailingBatchSummarizer()
    core.pipeline._summarizer = failing
    drafts = [draft("a", "Bridge reopens"), draft("b", "Bad draft"), draft("c", "Ferry news")]
    stats = await core.pipeline.ingest("feed:1", drafts)
    assert stats.new == 3
    assert failing.titles == ["Bridge reopens", "Ferry news"]
    summaries = sorted(i.summary for i in (await core.briefings.compose()).items)
    assert summaries[:2] == [
        "Bad draft. The council met on Monday and voted on the plan for the harbour.",
        "Summary of Bridge reopens.",
    ]


async def test_a_draft_whose_twin_vanished_is_summarised_after_the_write(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup said "a link", the write stored an article: it still gets a summary."""

    async def everything_linked(
        _engine: object, fresh: list[tuple[ArticleDraft, str]]
    ) -> list[int | None]:
        return [10**9 for _ in fresh]  # an article id that is not (or no longer) stored

    core.pipeline._summarizer = CountingSummarizer()
    monkeypatch.setattr(batch, "linked_drafts", everything_linked)
    stats = await core.pipeline.ingest("feed:1", [draft("a", "Bridge reopens")])
    assert stats.new == 1
    briefing = await core.briefings.compose()
    assert [i.summary for i in briefing.items] == ["Summary of Bridge reopens."]


async def test_a_batch_that_fails_together_is_stored_origin_by_origin(
    core: Core, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every store failure of a batch of origins is met the same way: each origin is
    stored alone, so it costs only its own. A race with another worker over the same
    keys (IntegrityError) is no failure alone (that worker stored them); any other error
    is logged with its traceback and names its origin in ``failed``, and nothing of it
    is stored here. ``ingest`` of one origin raises it."""
    real = batch.write_articles
    tried: list[list[str]] = []

    async def flaky(engine: AsyncEngine, writes: Sequence[batch.Write]) -> list[batch.Written]:
        origins = sorted({w.origin for w in writes})
        tried.append(origins)
        if "feed:2" in origins:
            raise IntegrityError("INSERT INTO item_keys", {}, Exception("duplicate key"))
        if "feed:3" in origins:
            raise RuntimeError("disk full")
        return await real(engine, writes)

    monkeypatch.setattr(batch, "write_articles", flaky)
    stats = await core.pipeline.ingest_many(
        [
            OriginDrafts("feed:1", [draft("a", "Harbour plan passes")]),
            OriginDrafts("feed:2", [draft("b", "Bridge reopens after repairs")]),
            OriginDrafts("feed:3", [draft("c", "Ferry timetable changes")]),
        ]
    )
    assert tried == [["feed:1", "feed:2", "feed:3"], ["feed:1"], ["feed:2"], ["feed:3"]]
    assert (stats.new, stats.failed) == (1, {"feed:3": "RuntimeError"})
    briefing = await core.briefings.compose()
    assert [i.headline for i in briefing.items] == ["Harbour plan passes"]
    logged = [r for r in caplog.records if r.name == pipeline_log]
    assert [r.levelname for r in logged] == ["WARNING", "WARNING", "ERROR"]
    together, race, failed = (r.getMessage() for r in logged)
    assert together.startswith("ingest: 3 origins failed to store together (IntegrityError: ")
    assert together.endswith("; storing them one by one")
    assert race == "ingest: origin=feed:2 raced another worker; retrying next cycle"
    assert failed == "ingest: origin=feed:3 failed to store"
    assert logged[2].exc_info is not None and "disk full" in str(logged[2].exc_info[1])
    with pytest.raises(RuntimeError, match="disk full"):
        await core.pipeline.ingest("feed:3", [draft("c", "Ferry timetable changes")])
