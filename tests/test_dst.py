"""Digest schedules across daylight-saving transitions and odd offsets: each planned wall
time fires once, at the right instant (see ``bot/service/local_cron.py`` for why a
skipped spring time moves forward instead of being dropped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.schedule import parse_schedule
from bot.service.local_cron import LocalCronTrigger
from bot.service.scheduler import DIGEST_GRACE, last_fire_time


def fires(words: str, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in [start, end), as the scheduler would walk them."""
    trigger = LocalCronTrigger(parse_schedule(words.split()).cron, timezone)
    out: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire < end:
        out.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return out


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_times(times: list[datetime]) -> list[str]:
    return [t.strftime("%a %d %H:%M %Z") for t in times]


def test_weekdays_0800_berlin_across_the_march_transition() -> None:
    # 2026-03-29 (a Sunday) clocks go 02:00 CET -> 03:00 CEST.
    times = fires("weekdays 08:00", "Europe/Berlin", utc(2026, 3, 25), utc(2026, 4, 2))
    assert local_times(times) == [
        "Wed 25 08:00 CET",
        "Thu 26 08:00 CET",
        "Fri 27 08:00 CET",
        "Mon 30 08:00 CEST",
        "Tue 31 08:00 CEST",
        "Wed 01 08:00 CEST",
    ]
    assert [t.astimezone(UTC).hour for t in times] == [7, 7, 7, 6, 6, 6]


def test_weekdays_0800_berlin_across_the_october_transition() -> None:
    # 2026-10-25 (a Sunday) clocks go 03:00 CEST -> 02:00 CET.
    times = fires("weekdays 08:00", "Europe/Berlin", utc(2026, 10, 21), utc(2026, 10, 29))
    assert local_times(times) == [
        "Wed 21 08:00 CEST",
        "Thu 22 08:00 CEST",
        "Fri 23 08:00 CEST",
        "Mon 26 08:00 CET",
        "Tue 27 08:00 CET",
        "Wed 28 08:00 CET",
    ]
    assert [t.astimezone(UTC).hour for t in times] == [6, 6, 6, 7, 7, 7]


def test_0230_on_the_spring_forward_day_fires_once_at_0330() -> None:
    times = fires("02:30", "Europe/Berlin", utc(2026, 3, 28), utc(2026, 3, 31))
    assert local_times(times) == ["Sat 28 02:30 CET", "Sun 29 03:30 CEST", "Mon 30 02:30 CEST"]
    assert times[1] == utc(2026, 3, 29, 1, 30)


def test_0230_on_the_fall_back_day_fires_once() -> None:
    times = fires("02:30", "Europe/Berlin", utc(2026, 10, 24), utc(2026, 10, 27))
    assert local_times(times) == ["Sat 24 02:30 CEST", "Sun 25 02:30 CEST", "Mon 26 02:30 CET"]
    # Asked again during the repeated hour (02:10 CET, after 02:30 CEST fired): the
    # next digest is tomorrow's, not a second one today.
    trigger = LocalCronTrigger(parse_schedule(["02:30"]).cron, "Europe/Berlin")
    repeated_hour = utc(2026, 10, 25, 1, 10)
    assert trigger.get_next_fire_time(times[1], repeated_hour) == times[2]
    assert trigger.get_next_fire_time(None, repeated_hour) == times[2]


def test_a_missed_slot_in_the_repeated_hour_is_caught_up_once() -> None:
    trigger = LocalCronTrigger(parse_schedule(["02:30"]).cron, "Europe/Berlin")
    after_both = utc(2026, 10, 25, 2, 0)  # 03:00 CET: both 02:30s have passed
    caught_up = last_fire_time(trigger, after_both, DIGEST_GRACE)
    assert caught_up is not None
    # The first 02:30 (CEST); compared in UTC, since PEP 495 makes an ambiguous local
    # time unequal to every instant of another zone.
    assert caught_up.astimezone(UTC) == utc(2026, 10, 25, 0, 30)


def test_new_york_and_kolkata_fire_at_the_right_utc_instants() -> None:
    ny = fires("daily 08:00", "America/New_York", utc(2026, 3, 7), utc(2026, 3, 10))
    assert [t.astimezone(UTC) for t in ny] == [
        utc(2026, 3, 7, 13),  # EST, UTC-5
        utc(2026, 3, 8, 12),  # EDT from 2026-03-08, UTC-4
        utc(2026, 3, 9, 12),
    ]
    kolkata = fires("daily 08:00", "Asia/Kolkata", utc(2026, 3, 7), utc(2026, 3, 9))
    assert [t.astimezone(UTC) for t in kolkata] == [
        utc(2026, 3, 7, 2, 30),  # IST, UTC+5:30
        utc(2026, 3, 8, 2, 30),
    ]
