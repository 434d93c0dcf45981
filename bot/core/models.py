"""Plain data that flows through the pipeline; no I/O, no SDK types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.core.usage import Say


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """One normalised item from a source, before it is stored.

    ``key`` identifies the item within its source and survives edits of title and date
    (a feed guid, a canonical URL, or a seed file's path), so an edited item is an
    update and never a new article.
    """

    source: str
    key: str
    title: str
    text: str
    published_at: datetime
    url: str | None = None
    author: str | None = None
    language: str | None = None
    standfirst: str | None = None
    feed_id: int | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article, as the briefing sees it."""

    id: int
    source: str
    title: str
    summary: str
    published_at: datetime
    url: str | None = None
    story_id: int | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Story:
    """Articles from one or more sources about the same event."""

    id: int
    title: str
    summary: str
    first_seen: datetime
    last_updated: datetime
    articles: tuple[Article, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        """Distinct source names, in the order their first article was published."""
        seen: dict[str, None] = {}
        for article in sorted(self.articles, key=lambda a: a.published_at):
            seen.setdefault(article.source, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class SourceLink:
    name: str
    url: str | None


@dataclass(frozen=True, slots=True)
class BriefingItem:
    """One story in a briefing: what every renderer shows."""

    headline: str
    summary: str
    url: str | None
    published_at: datetime
    sources: tuple[SourceLink, ...]
    story_id: int | None = None
    score: float = 0.0
    score_parts: dict[str, float] = field(default_factory=dict)
    article_count: int = 0  # every article of the story in the window ("Sources (N)")


@dataclass(frozen=True, slots=True)
class Mention:
    """Who a channel's scheduled digest pings, opted in by an admin: a Discord role,
    a Slack user group, or Slack's ``@here``. ``label`` is for people (``@editors``)."""

    kind: Literal["role", "group", "here"]
    id: str = ""
    label: str = ""

    @property
    def shown(self) -> str:
        return "@here" if self.kind == "here" else self.label or f"{self.kind} {self.id}"


@dataclass(frozen=True, slots=True)
class Briefing:
    """A platform-neutral briefing; renderers turn it into Markdown, Block Kit or embeds.

    ``generated_at``, ``window_start`` and ``window_end`` are aware datetimes in the
    channel's time zone.
    """

    generated_at: datetime
    window_start: datetime
    window_end: datetime
    timezone: str
    items: tuple[BriefingItem, ...]
    topic: str | None = None
    article_count: int = 0
    story_count: int = 0
    #: The slot's planned time when the digest goes out well after it (an outage).
    late_since: datetime | None = None
    #: Set on scheduled digests of a channel that opted in; on-demand briefings never ping.
    mention: Mention | None = None
    #: Scheduled digests of a channel in thread mode: a header, the stories in its thread.
    threaded: bool = False

    @property
    def title(self) -> str:
        stamp = self.generated_at.strftime("%a %d %b %Y, %H:%M")
        topic = f" on “{self.topic}”" if self.topic else ""
        return f"Briefing{topic} — {stamp} {self.timezone}"

    @property
    def late_note(self) -> str:
        """Says so when the digest is a catch-up after an outage, so readers know why."""
        if self.late_since is None:
            return ""
        due = self.late_since.astimezone(self.generated_at.tzinfo)
        return f"Late: this digest was due at {due:%H:%M} ({due:%d %b}); the bot was offline. "

    @property
    def counts_line(self) -> str:
        shown = len(self.items)
        return self.late_note + (
            f"{shown} of {self.story_count} stories from {self.article_count} articles, "
            f"{self.window_start:%d %b %H:%M} – {self.window_end:%d %b %H:%M}"
        )


Platform = Literal["console", "slack", "discord", "webhook"]


@dataclass(frozen=True, slots=True)
class IncomingCommand:
    """A user's `/briefing ...` as every adapter hands it to the core.

    ``text`` is what follows the command name (``"last 6h"``, ``"subscribe https://..."``).
    ``can_manage`` is decided by the adapter (Slack admin/owner or configured user ids,
    Discord Manage Server/Channels); the core refuses management commands without it.
    """

    platform: Platform
    channel: str
    user: str
    text: str = ""
    workspace: str = ""
    can_manage: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """The core's answer. Exactly one of ``briefing`` or ``text`` is meant for the user.

    ``text`` is plain text with light Markdown (``*bold*`` is not used; adapters escape
    it for their platform). ``ephemeral`` replies go only to the user who asked.
    """

    text: str = ""
    briefing: Briefing | None = None
    ephemeral: bool = False
    ok: bool = True
    #: ``text`` with its command mentions kept as meaning, for adapters to word in
    #: their platform's syntax (``bot.core.usage``); None when ``text`` mentions none.
    say: Say | None = None
    #: A drill-down into one story; ``text`` then holds its plain-text rendering.
    story: StoryDetail | None = None


@dataclass(frozen=True, slots=True)
class StoryDetail:
    """One story opened from a briefing ("Sources (N)", ``/briefing story <n>``): every
    article (outlet, headline, link, time) and a longer summary drawn across them.
    ``number`` is the story's place in the channel's last briefing, when known."""

    story_id: int
    headline: str
    summary: str
    articles: tuple[Article, ...]  # oldest first
    timezone: str = "UTC"
    number: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where a briefing goes: platform + workspace/guild + channel id."""

    platform: Platform
    channel: str
    workspace: str = ""


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """A channel's own choices, stored in the `channels` table."""

    ref: ChannelRef
    timezone: str = "UTC"
    topics: tuple[str, ...] = ()
    schedule: str | None = None
    max_stories: int | None = None
    paused_reason: str | None = None  # why the schedule stopped (a dead delivery)
    muted_words: tuple[str, ...] = ()  # lower-cased whole words (bot.core.mutes)
    muted_sources: tuple[str, ...] = ()  # lower-cased outlet names
    mention: Mention | None = None  # pinged by each scheduled digest (bot.core.mentions)
    threads: bool = False  # digests as a header message with the stories in its thread
    #: A personal digest (``dm:<user>``) follows this channel's feeds, topics and mutes.
    origin: ChannelRef | None = None


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A feed and its health, for `feeds list` and `/briefing feeds`."""

    id: int
    url: str
    title: str | None = None
    items: int = 0
    last_fetch: datetime | None = None
    last_error: str | None = None
    failure_count: int = 0
    next_fetch_at: datetime | None = None
