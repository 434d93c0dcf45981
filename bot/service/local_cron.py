"""Cron schedules read as wall-clock time in the channel's zone, once per wall-clock time.

APScheduler 3's ``CronTrigger`` walks real instants, so on the autumn fall-back day a
``02:30`` schedule matches both 02:30 CEST and 02:30 CET and fires twice. Here the
schedule is evaluated on the local wall clock and each wall time is placed once:

- an ambiguous wall time (the repeated hour in autumn) is its first occurrence;
- a wall time that does not exist (the skipped hour in spring) moves forward by the
  gap: a ``02:30`` digest in Europe/Berlin is posted at 03:30 on that day. A daily
  briefing that silently skipped a day would look like a bug; one an hour late does not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

_STEP = timedelta(minutes=1)


class LocalCronTrigger(BaseTrigger):  # type: ignore[misc]
    """A crontab (``"0 8 * * mon-fri"``) in ``timezone``; fires at most once per wall time."""

    def __init__(self, crontab: str, timezone: str) -> None:
        self.crontab = crontab
        try:
            self.timezone: tzinfo = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {timezone!r}") from exc
        # The same fields, evaluated on naive wall-clock times (carried as UTC).
        self._wall = CronTrigger.from_crontab(crontab, timezone=UTC)

    def _to_wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.timezone).replace(tzinfo=UTC, fold=0)

    def _to_instant(self, wall: datetime) -> datetime:
        local = wall.replace(tzinfo=self.timezone, fold=0)
        return local.astimezone(UTC)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        start = self._to_wall(now)
        if previous_fire_time is not None:
            # The wall clock may run backwards (autumn): never repeat a wall time.
            start = max(start, self._to_wall(previous_fire_time) + timedelta(microseconds=1))
        wall: datetime | None = self._wall.get_next_fire_time(None, start)
        for _ in range(10_000):
            if wall is None:
                return None
            instant = self._to_instant(wall)
            if instant >= now and (previous_fire_time is None or instant > previous_fire_time):
                return instant.astimezone(self.timezone)
            wall = self._wall.get_next_fire_time(wall, wall + _STEP)
        return None

    def __str__(self) -> str:
        return f"local_cron[{self.crontab} {self.timezone}]"

    def __repr__(self) -> str:
        return f"<LocalCronTrigger ({self.crontab!r}, timezone={str(self.timezone)!r})>"


def next_digest(schedule: str | None, timezone: str, now: datetime) -> datetime | None:
    """The next planned digest after ``now``, in the channel's own time zone."""
    if not schedule:
        return None
    try:
        trigger = LocalCronTrigger(schedule, timezone)
    except ValueError:
        return None
    return trigger.get_next_fire_time(None, now)
