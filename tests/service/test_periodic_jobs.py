"""Periodic jobs run: a job that waits one interval before its first run is scheduled,
not added paused (APScheduler 3 pauses a job added with ``next_run_time=None``, which
once kept followers from ever taking the scheduler leadership over)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.core.models import Briefing, ChannelRef, ChannelSettings
from bot.delivery.outbox import Outbox
from bot.service.core import Core
from bot.service.scheduler import Scheduler, digest_job_id


async def test_a_job_that_starts_later_still_runs() -> None:
    scheduler = Scheduler(None)
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler.every("later", 0.005, job, start_now=False)  # every 0.3 s
    scheduler.start()
    try:
        planned = scheduler.aps.get_job("later")
        assert planned is not None and planned.next_run_time is not None
        await asyncio.wait_for(ran.wait(), 60)  # a bound for a loaded machine, not a timing
    finally:
        scheduler.shutdown()


def planned_trigger(scheduler: Scheduler, ref: ChannelRef) -> Any:
    job = scheduler.aps.get_job(digest_job_id(ref))
    assert job is not None
    return job.args[1]


def next_fire(trigger: Any) -> datetime:
    fire: datetime = trigger.get_next_fire_time(None, datetime(2026, 1, 5, tzinfo=UTC))
    return fire.astimezone(UTC)


async def test_the_leader_picks_up_a_schedule_set_through_another_process(core: Core) -> None:
    async def nothing(ref: ChannelRef, seen: set[int]) -> Briefing:
        raise AssertionError("no digest is due in this test")

    scheduler = Scheduler(Outbox(core.db, {}, nothing))
    scheduler.start()
    try:
        await follow_schedules(scheduler)
    finally:
        scheduler.shutdown()


async def follow_schedules(scheduler: Scheduler) -> None:
    ref = ChannelRef("slack", "C1", "T1")
    await scheduler.reconcile([])
    assert scheduler.aps.get_job(digest_job_id(ref)) is None
    # A follower answered `/briefing schedule`: only the table knows.
    morning = ChannelSettings(ref, timezone="Europe/Kyiv", schedule="0 8 * * 1-5")
    await scheduler.sync([morning])
    trigger = planned_trigger(scheduler, ref)
    assert next_fire(trigger).hour == 6  # 08:00 in Kyiv, 06:00 UTC in January
    await scheduler.sync([morning])  # unchanged: the job is kept, not replaced
    assert planned_trigger(scheduler, ref) is trigger
    await scheduler.sync([ChannelSettings(ref, timezone="Europe/Kyiv", schedule="0 9 * * 1-5")])
    assert next_fire(planned_trigger(scheduler, ref)).hour == 7
    await scheduler.sync([])  # schedule off
    assert scheduler.aps.get_job(digest_job_id(ref)) is None
