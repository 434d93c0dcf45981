"""Periodic jobs run: a job that waits one interval before its first run is scheduled,
not added paused (APScheduler 3 pauses a job added with ``next_run_time=None``, which
once kept followers from ever taking the scheduler leadership over)."""

from __future__ import annotations

import asyncio

from bot.service.scheduler import Scheduler


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
