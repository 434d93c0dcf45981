"""Outbox and scheduler: a digest posts exactly once per slot, retries on 429/5xx, and a
slot missed while the process was down is posted on start (within the grace)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.core.models import Briefing, ChannelRef
from bot.delivery.outbox import Outbox, slot_for
from bot.errors import DeliveryError
from bot.service.core import Core
from bot.service.scheduler import Scheduler, digest_job_id, last_fire_time


class RecordingPublisher:
    """A Publisher that fails as told, then records what it posted."""

    platform = "slack"

    def __init__(self, failures: list[DeliveryError] | None = None) -> None:
        self.failures = list(failures or [])
        self.posted: list[tuple[ChannelRef, Briefing, str]] = []

    async def publish(self, ref: ChannelRef, briefing: Briefing, delivery_key: str) -> list[str]:
        if self.failures:
            raise self.failures.pop(0)
        self.posted.append((ref, briefing, delivery_key))
        return [f"msg-{len(self.posted)}"]


REF = ChannelRef("slack", "C1", "T1")


def outbox_for(core: Core, publisher: RecordingPublisher, sleeps: list[float]) -> Outbox:
    async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
        return await core.briefing_for(ref, exclude=seen)

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return Outbox(core.db, {"slack": publisher}, briefing_for, sleep=fake_sleep)


async def test_slot_posts_once_and_stories_are_not_repeated(core: Core) -> None:
    await core.ingest_seeds()
    publisher = RecordingPublisher()
    outbox = outbox_for(core, publisher, [])
    first = await outbox.deliver(REF, "2026-11-25T08:00Z")
    assert first.status == "sent" and first.message_ids == ("msg-1",)
    again = await outbox.deliver(REF, "2026-11-25T08:00Z")
    assert again.status == "duplicate"
    nothing_new = await outbox.deliver(REF, "2026-11-26T08:00Z")
    assert nothing_new.status == "empty"  # the only story was delivered already
    assert len(publisher.posted) == 1
    assert publisher.posted[0][2] == "slack:T1:C1:2026-11-25T08:00Z"


async def test_retries_honour_retry_after_then_land(core: Core) -> None:
    await core.ingest_seeds()
    publisher = RecordingPublisher(
        [DeliveryError("slack: ratelimited", retry_after=7), DeliveryError("slack: 503")]
    )
    sleeps: list[float] = []
    result = await outbox_for(core, publisher, sleeps).deliver(REF, "slot")
    assert result.status == "sent"
    assert sleeps == [7, 4.0]  # Retry-After first, then exponential backoff
    channel_id = await core.db.channels.row_id(REF)
    row = await core.db.deliveries.get(channel_id, "slot")
    assert row is not None and row.attempts == 3 and row.status == "sent"


async def test_permanent_failure_is_recorded(core: Core) -> None:
    await core.ingest_seeds()
    publisher = RecordingPublisher([DeliveryError("slack: channel_not_found", permanent=True)])
    result = await outbox_for(core, publisher, []).deliver(REF, "slot")
    assert result.status == "failed" and result.error == "slack: channel_not_found"
    row = await core.db.deliveries.get(await core.db.channels.row_id(REF), "slot")
    assert row is not None and row.status == "failed"
    assert row.last_error == "slack: channel_not_found"


async def test_crash_between_send_and_mark_is_resumed(core: Core) -> None:
    await core.ingest_seeds()
    channel_id = await core.db.channels.row_id(REF)
    claimed = await core.db.deliveries.claim(channel_id, "slot-x")  # then the process died
    assert claimed is not None
    publisher = RecordingPublisher()
    results = await outbox_for(core, publisher, []).resume(await core.db.channels.refs_by_id())
    assert [r.status for r in results] == ["sent"]
    assert publisher.posted[0][2].endswith(":slot-x")  # same key: the platform can dedupe


def test_last_fire_time_within_grace() -> None:
    trigger = CronTrigger.from_crontab("0 8 * * mon-fri", timezone="Europe/Kyiv")
    wed_9 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 11:00 in Kyiv
    fired = last_fire_time(trigger, wed_9, timedelta(hours=6))
    assert fired is not None and fired.astimezone(UTC) == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    assert last_fire_time(trigger, wed_9, timedelta(hours=2)) is None
    assert slot_for(fired) == "2026-11-25T06:00Z"


async def test_missed_digest_is_posted_on_start_once(core: Core, tmp_path: Path) -> None:
    await core.ingest_seeds()
    settings = await core.db.channels.channel(REF)
    await core.db.channels.save_channel(replace(settings, schedule="0 8 * * *", timezone="UTC"))
    publisher = RecordingPublisher()
    clock_now = datetime.now(UTC).replace(hour=9, minute=30, second=0, microsecond=0)
    if clock_now > datetime.now(UTC):
        clock_now -= timedelta(days=1)
    for _restart in range(2):
        scheduler = Scheduler(outbox_for(core, publisher, []), clock=lambda: clock_now)
        await scheduler.reconcile(await core.db.channels.scheduled())
        job = scheduler.aps.get_job(digest_job_id(REF))
        assert job is not None
        assert job.coalesce is True and job.misfire_grace_time == 6 * 3600
    assert len(publisher.posted) == 1


async def test_schedule_command_moves_the_job(core: Core) -> None:
    from bot.core.models import IncomingCommand

    scheduler = Scheduler(outbox_for(core, RecordingPublisher(), []))
    core.schedule_hooks.append(scheduler.channel_changed)
    cmd = IncomingCommand("slack", "C1", "U1", "schedule weekdays 07:15 Europe/Kyiv", "T1", True)
    reply = await core.router.dispatch(cmd)
    assert reply.ok, reply.text
    job = scheduler.aps.get_job(digest_job_id(REF))
    assert job is not None and str(job.trigger.timezone) == "Europe/Kyiv"
    await core.router.dispatch(replace(cmd, text="schedule off"))
    assert scheduler.aps.get_job(digest_job_id(REF)) is None


@pytest.mark.parametrize("bad", ["0 25 * * *", "* * * *"])
async def test_bad_cron_is_refused_by_the_command(core: Core, bad: str) -> None:
    from bot.core.models import IncomingCommand

    reply = await core.router.dispatch(
        IncomingCommand("console", "c", "u", f"schedule {bad}", can_manage=True)
    )
    assert not reply.ok and reply.ephemeral
