"""Two processes on one PostgreSQL database make one set of stories.

Each runtime has its own pipeline and grouper, as two `briefbot run` processes would.
They ingest disjoint feeds that report the same events; only the scheduler leader
groups, so an event covered by both lands in one story, not one per process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import test_settings
from bot.core.models import ArticleDraft
from bot.service.core import Core, open_core
from bot.service.grouping import GroupingStage
from bot.store.leader import Leadership
from bot.store.schema import articles

NOW = datetime.now(UTC) - timedelta(hours=1)

EVENTS = {
    "budget": (
        "City budget vote delayed as councillors argue over school funding",
        "The city budget vote was delayed again after councillors argued over school "
        "funding, teacher salaries and the repair of old classroom buildings.",
    ),
    "harbour": (
        "Harbour council approves the new container terminal expansion",
        "The harbour council voted on Monday to approve the container terminal expansion, "
        "after months of debate over dredging, shipping traffic and the cost to the port.",
    ),
    "wildfire": (
        "Wildfire forces evacuation of mountain villages near the national park",
        "Firefighters battled a wildfire that forced the evacuation of mountain villages "
        "near the national park, as strong winds pushed the flames toward the valley.",
    ),
}


def report(event: str, outlet: str, n: int) -> ArticleDraft:
    """One outlet's article about ``event``: the same facts, its own wording."""
    title, text = EVENTS[event]
    return ArticleDraft(
        source=outlet,
        key=f"{outlet}-{event}-{n}",
        title=f"{title} ({outlet})",
        text=f"{text} {outlet} reports that officials will meet again next week.",
        published_at=NOW + timedelta(minutes=n),
        url=f"https://{outlet.lower()}.example/{event}/{n}",
    )


@pytest.fixture
async def runtimes(
    postgres_url: str, tmp_path: Path
) -> AsyncIterator[list[tuple[Core, Leadership]]]:
    """Two wired cores with their own leadership, as `run_bot` wires each process."""
    pairs: list[tuple[Core, Leadership]] = []
    try:
        for n in range(2):
            settings = test_settings(tmp_path / str(n), bot={"database_url": postgres_url})
            core = await open_core(settings)
            leadership = Leadership(core.db.engine)
            core.pipeline.owns_grouping = lambda lead=leadership: lead.is_leader
            pairs.append((core, leadership))
        yield pairs
    finally:
        for core, leadership in pairs:
            await leadership.release()
            await core.close()


async def story_of(core: Core) -> dict[str, int | None]:
    async with core.db.engine.connect() as conn:
        rows = await conn.execute(select(articles.c.canonical_url, articles.c.story_id))
        return {r.canonical_url: r.story_id for r in rows}


def by_event(stories: dict[str, int | None]) -> dict[str, set[int | None]]:
    grouped: dict[str, set[int | None]] = {}
    for url, story_id in stories.items():
        grouped.setdefault(url.split("/")[3], set()).add(story_id)
    return grouped


async def test_two_runtimes_ingesting_disjoint_feeds_make_one_story_set(
    runtimes: list[tuple[Core, Leadership]],
) -> None:
    (a, lead_a), (b, lead_b) = runtimes
    assert await lead_a.try_acquire() and not await lead_b.try_acquire()
    # Both processes are warm: each has ingested before the events break.
    await a.pipeline.ingest("feed:1", [report("budget", "Tribune", 0)])
    await b.pipeline.ingest("feed:2", [report("budget", "Courier", 1)])
    await a.pipeline.ingest(
        "feed:1", [report("harbour", "Tribune", 2), report("wildfire", "Tribune", 3)]
    )
    await b.pipeline.ingest(
        "feed:2", [report("harbour", "Courier", 4), report("wildfire", "Courier", 5)]
    )
    # The follower stored its articles for the leader to group.
    assert await b.pipeline.group_orphans() == 0  # not the owner: it never groups
    assert None in (await story_of(a)).values()
    assert await a.pipeline.group_orphans() == 3
    stories = by_event(await story_of(a))
    assert all(len(ids) == 1 and None not in ids for ids in stories.values()), stories
    assert len(set.union(*stories.values())) == 3
    briefing = await b.briefings.compose()
    assert [len(item.sources) for item in briefing.items] == [2, 2, 2]

    # The leader goes away; the follower takes over with a grouper rebuilt from the
    # database, and a later report joins the story the old leader made.
    await lead_a.release()
    assert await lead_b.try_acquire()
    await b.pipeline.ingest("feed:2", [report("harbour", "Herald", 6)])
    after = by_event(await story_of(b))
    assert after["harbour"] == stories["harbour"]


async def test_the_leader_groups_a_settled_cycle_whatever_process_stored_it(
    runtimes: list[tuple[Core, Leadership]],
) -> None:
    (a, lead_a), (b, lead_b) = runtimes
    stages = []
    for core, lead in runtimes:
        core.pipeline.inline_grouping = False  # as `briefbot run` wires it on PostgreSQL
        stages.append(
            GroupingStage(
                core.db,
                core.pipeline,
                lambda lead=lead: lead.is_leader,
                max_wait=timedelta(hours=1),
            )
        )
    impatient = GroupingStage(a.db, a.pipeline, lambda: lead_a.is_leader, max_wait=timedelta(0))
    assert await lead_a.try_acquire() and not await lead_b.try_acquire()
    due, _ = await a.db.feeds.add("https://feeds.example/due.xml")  # a cycle under way
    await a.pipeline.ingest(
        "feed:1", [report("harbour", "Tribune", 0), report("wildfire", "Tribune", 1)]
    )
    await b.pipeline.ingest(
        "feed:2", [report("harbour", "Courier", 0), report("wildfire", "Courier", 1)]
    )
    assert set((await story_of(a)).values()) == {None}  # nobody groups as it stores
    assert await stages[0].run_once() == 0  # a feed is still due: wait for the cycle
    await a.db.feeds.remove(due)  # the cycle settles
    assert await stages[1].run_once() == 0  # a follower never groups
    assert await stages[0].run_once() == 4
    stories = by_event(await story_of(b))
    assert all(len(ids) == 1 and None not in ids for ids in stories.values()), stories
    assert len(set.union(*stories.values())) == 2

    # Feeds that never settle: an article that waited long enough is grouped anyway.
    await a.db.feeds.add("https://feeds.example/due-again.xml")
    await b.pipeline.ingest("feed:2", [report("harbour", "Herald", 2)])
    assert await stages[0].run_once() == 0
    assert await impatient.run_once() == 1
    assert by_event(await story_of(a))["harbour"] == stories["harbour"]
