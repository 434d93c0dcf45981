"""APScheduler 3.11 on the shared event loop: seed re-reads, feed polling, channel digests.

Digest schedules live in our own ``channels`` table (APScheduler 3.x cannot share a job
store between processes), and the leader reconciles jobs from it. APScheduler's defaults
lose digests (a 1 s misfire grace), so jobs coalesce with an explicit grace, and on start
the leader also posts a slot that fell due while it was down, within that grace — the
outbox's claim keeps that from ever posting a slot twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.models import ChannelRef, ChannelSettings
from bot.delivery.outbox import Outbox, slot_for
from bot.errors import BriefbotError
from bot.service.local_cron import LocalCronTrigger

log = logging.getLogger(__name__)

DIGEST_GRACE = timedelta(hours=6)

Job = Callable[[], Awaitable[object]]


def digest_job_id(ref: ChannelRef) -> str:
    return f"digest:{ref.platform}:{ref.workspace}:{ref.channel}"


def cron_trigger(settings: ChannelSettings) -> LocalCronTrigger:
    assert settings.schedule is not None
    try:
        return LocalCronTrigger(settings.schedule, settings.timezone)
    except ValueError as exc:
        raise BriefbotError(f"scheduler: bad schedule {settings.schedule!r}: {exc}") from exc


def test_trigger(every_seconds: float) -> IntervalTrigger:
    """Test-only (``[delivery] test_digest_every_seconds``): every channel's digest every
    few seconds, at multiples of the interval since the epoch, so that all processes and
    restarts agree on the slots."""
    return IntervalTrigger(
        seconds=every_seconds, start_date=datetime(2020, 1, 1, tzinfo=UTC), timezone=UTC
    )


def last_fire_time(trigger: BaseTrigger, now: datetime, grace: timedelta) -> datetime | None:
    """The latest planned run in (now - grace, now], if any."""
    fire: datetime | None = trigger.get_next_fire_time(None, now - grace)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return latest


class Scheduler:
    def __init__(
        self,
        outbox: Outbox | None,
        *,
        leader: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        test_every_seconds: float = 0.0,
    ) -> None:
        self._outbox = outbox
        self._leader = leader
        self._clock = clock
        self._test_every = test_every_seconds
        self._running: set[asyncio.Task[object]] = set()  # jobs in progress, for stop()
        self._planned: dict[str, tuple[str, str]] = {}  # digest job id -> (schedule, zone)
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(DIGEST_GRACE.total_seconds()),
            },
        )

    def every(self, job_id: str, minutes: float, job: Job, *, start_now: bool = True) -> None:
        """A periodic job that logs its failures and keeps running."""

        async def guarded() -> None:
            self._track()
            try:
                await job()
            except asyncio.CancelledError:  # shutting down (Ctrl-C): not a failure
                log.debug("scheduler: job %s cancelled", job_id)
            except Exception:
                log.exception("scheduler: job %s failed", job_id)
            finally:
                self._untrack()

        # APScheduler adds a job with ``next_run_time=None`` *paused*: without
        # ``start_now`` the trigger picks the first run, one interval from now.
        first: dict[str, datetime] = {"next_run_time": self._clock()} if start_now else {}
        self.aps.add_job(
            guarded, IntervalTrigger(minutes=minutes), id=job_id, replace_existing=True, **first
        )

    @property
    def leader(self) -> bool:
        return self._leader

    async def contend(
        self, acquire: Callable[[], Awaitable[bool]], lead: Callable[[], Awaitable[None]]
    ) -> bool:
        """Run periodically by a follower: once ``acquire`` wins the leadership (the old
        leader released it, or died and its connection closed), this process posts the
        digests from then on, starting with ``lead`` (resume and catch up)."""
        if self._leader:
            return True
        if not await acquire():
            return False
        self._leader = True
        log.info("scheduler: this process is now the leader")
        await lead()
        return True

    async def reconcile(self, channels: list[ChannelSettings]) -> None:
        """Make digest jobs match the table; post a slot missed while down (within grace)."""
        if not self._leader or self._outbox is None:
            return
        for settings in self._keep_only(channels).values():
            await self.channel_changed(settings, catch_up=True)

    def _keep_only(self, channels: list[ChannelSettings]) -> dict[str, ChannelSettings]:
        """Drop the digest jobs of channels no longer scheduled; the wanted ones by job id."""
        wanted = {digest_job_id(c.ref): c for c in channels if c.schedule}
        for job in self.aps.get_jobs():
            if job.id.startswith("digest:") and job.id not in wanted:
                job.remove()
                self._planned.pop(job.id, None)
        return wanted

    async def sync(self, channels: list[ChannelSettings]) -> None:
        """Run periodically by the leader: pick up schedules changed by another process
        (a `/briefing schedule` answered by a follower). Only jobs whose schedule or time
        zone changed are replaced, so a job about to fire keeps its run."""
        if not self._leader or self._outbox is None:
            return
        for job_id, settings in self._keep_only(channels).items():
            assert settings.schedule is not None
            if self._planned.get(job_id) != (settings.schedule, settings.timezone):
                log.info("scheduler: schedule of channel=%s changed", settings.ref.channel)
                await self.channel_changed(settings)

    async def channel_changed(self, settings: ChannelSettings, catch_up: bool = False) -> None:
        """Add, move or drop one channel's digest job (called when `/briefing schedule` runs)."""
        if not self._leader or self._outbox is None:
            return
        job_id = digest_job_id(settings.ref)
        if not settings.schedule:
            self._planned.pop(job_id, None)
            if self.aps.get_job(job_id) is not None:
                self.aps.remove_job(job_id)
            return
        self._planned[job_id] = (settings.schedule, settings.timezone)  # a bad one too
        trigger: BaseTrigger
        try:
            trigger = test_trigger(self._test_every) if self._test_every else cron_trigger(settings)
        except BriefbotError as exc:
            log.error("%s (channel=%s)", exc, settings.ref.channel)
            return
        grace = self._grace
        self.aps.add_job(
            self._run_digest,
            trigger,
            id=job_id,
            args=[settings.ref, trigger],
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(grace.total_seconds())),
        )
        if catch_up:
            missed = last_fire_time(trigger, self._clock(), grace)
            if missed is not None:
                await self._outbox.deliver(settings.ref, self._slot(missed), due=missed)

    @property
    def _grace(self) -> timedelta:
        # Test mode: a slot missed while down is caught up only if it was the last one.
        return timedelta(seconds=self._test_every) if self._test_every else DIGEST_GRACE

    def _slot(self, fire: datetime) -> str:
        return slot_for(fire, seconds=bool(self._test_every))

    async def _run_digest(self, ref: ChannelRef, trigger: BaseTrigger) -> None:
        assert self._outbox is not None
        fire = last_fire_time(trigger, self._clock(), self._grace) or self._clock()
        self._track()
        try:
            await self._outbox.deliver(ref, self._slot(fire), due=fire)
        except asyncio.CancelledError:
            log.info("scheduler: digest for channel=%s interrupted by shutdown", ref.channel)
        except Exception:
            log.exception("scheduler: digest for channel=%s failed", ref.channel)
        finally:
            self._untrack()

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)

    def _untrack(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.discard(task)

    def start(self) -> None:
        self.aps.start()

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)

    async def stop(self, grace_s: float = 0.0, limit_s: float = 10.0) -> None:
        """Stop firing jobs; let running ones finish for ``grace_s`` seconds, then cancel
        them and wait until they are done."""
        self.shutdown()
        running = [t for t in self._running if not t.done()]
        if running and grace_s > 0:
            await asyncio.wait(running, timeout=grace_s)
            running = [t for t in running if not t.done()]
        for task in running:
            task.cancel()
        if running:
            _, stuck = await asyncio.wait(running, timeout=limit_s)
            if stuck:
                log.error("scheduler: %d job(s) did not stop within %.0f s", len(stuck), limit_s)
