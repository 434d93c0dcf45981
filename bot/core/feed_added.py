"""What `feeds add` and `/briefing subscribe` tell the user about the feed they added:
its title and size when it answered, where it was found when the URL was a web page,
and the error and the next try when the first fetch failed for a passing reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.models import FeedInfo


@dataclass(frozen=True, slots=True)
class FeedAdded:
    feed: FeedInfo
    created: bool
    items: int = 0
    latest: datetime | None = None
    discovered_on: str | None = None  # the web page the feed was found on
    alternatives: tuple[str, ...] = ()  # other feeds that page offered
    warning: str | None = None  # a transient first-fetch failure
    retry_at: datetime | None = None


def ago(when: datetime, now: datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def summary(added: FeedAdded, now: datetime | None = None) -> str:
    """``<title> — 25 items (latest 2 h ago)``, or the warning for a failed first fetch."""
    now = now or datetime.now(UTC)
    name = added.feed.title or added.feed.url
    if added.warning:
        retry = ""
        if added.retry_at is not None:
            minutes = max(1, round((added.retry_at - now).total_seconds() / 60))
            retry = f"; I'll retry at {added.retry_at:%H:%M} UTC (in {minutes} min)"
        return f"{name} — warning: the first fetch failed ({added.warning}){retry}"
    latest = f" (latest {ago(added.latest, now)})" if added.latest else ""
    noun = "item" if added.items == 1 else "items"
    return f"{name} — {added.items} {noun}{latest}"


def discovery_lines(added: FeedAdded) -> list[str]:
    if not added.discovered_on:
        return []
    lines = [f"found on {added.discovered_on}: {added.feed.url}"]
    if added.alternatives:
        lines.append("other feeds there: " + ", ".join(added.alternatives))
    return lines


def describe_added(added: FeedAdded, now: datetime | None = None) -> str:
    """The lines `feeds add` prints: ``added: [3] <title> — 25 items (latest 2 h ago)``."""
    word = "added" if added.created else "already present"
    head = f"{word}: [{added.feed.id}] {summary(added, now)}"
    return "\n".join([head, *("  " + line for line in discovery_lines(added))])
