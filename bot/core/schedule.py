"""Digest schedules in words (``weekdays 08:00 Europe/Kyiv``) or cron, checked without I/O."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from bot.errors import CommandError

_DAYS = {
    "daily": "*",
    "everyday": "*",
    "weekdays": "mon-fri",
    "weekends": "sat,sun",
}
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_CRON_FIELD = re.compile(r"^[\d*/,\-a-z]+$")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))

EXAMPLES = "`weekdays 08:00 Europe/Kyiv`, `daily 07:30`, `mon,thu 09:00 UTC` or `0 8 * * 1-5`"


@dataclass(frozen=True, slots=True)
class Schedule:
    cron: str
    timezone: str | None


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CommandError(
            f"“{name}” is not a time zone I know. Use an IANA name such as Europe/Kyiv or UTC."
        ) from None
    return name


def _check_cron_field(value: str, low: int, high: int) -> bool:
    if not _CRON_FIELD.match(value):
        return False
    for number in re.findall(r"\d+", value):
        if not low <= int(number) <= max(high, 59 if "/" in value else high):
            return False
    return True


def _day_spec(word: str) -> str | None:
    if word in _DAYS:
        return _DAYS[word]
    parts = word.split(",")
    if all(
        p in _DAY_NAMES or re.fullmatch(r"(mon|tue|wed|thu|fri|sat|sun)-(\w{3})", p) for p in parts
    ):
        return word
    return None


def parse_schedule(words: list[str]) -> Schedule:
    """``weekdays 08:00 [tz]``, ``08:00 [tz]`` (daily), or five cron fields ``[tz]``."""
    if not words:
        raise CommandError(f"Tell me when, e.g. {EXAMPLES}.")
    words = [w.strip() for w in words if w.strip()]
    tz: str | None = None
    if len(words) in {2, 3, 6} and ("/" in words[-1] or words[-1].upper() == "UTC"):
        tz = check_timezone(words[-1] if words[-1].upper() != "UTC" else "UTC")
        words = words[:-1]
    lowered = [w.lower() for w in words]
    if len(lowered) == 5:
        for value, (low, high) in zip(lowered, _RANGES, strict=True):
            if not _check_cron_field(value, low, high):
                raise CommandError(f"“{' '.join(words)}” is not a cron expression I can use.")
        return Schedule(" ".join(lowered), tz)
    if len(lowered) == 1:
        lowered = ["daily", lowered[0]]
    if len(lowered) == 2:
        days = _day_spec(lowered[0])
        match = _TIME.match(lowered[1])
        if days is not None and match:
            hour, minute = int(match.group(1)), int(match.group(2))
            return Schedule(f"{minute} {hour} * * {days}", tz)
    raise CommandError(f"I couldn't read “{' '.join(words)}” as a schedule. Try {EXAMPLES}.")


def describe(cron: str) -> str:
    """A short human reading of the crons ``parse_schedule`` makes; raw cron otherwise."""
    fields = cron.split()
    if (
        len(fields) == 5
        and fields[0].isdigit()
        and fields[1].isdigit()
        and fields[2:4] == ["*", "*"]
    ):
        days = {v: k for k, v in _DAYS.items() if k != "everyday"}.get(fields[4], fields[4])
        return f"{days} at {int(fields[1]):02d}:{int(fields[0]):02d}"
    return f"cron `{cron}`"
