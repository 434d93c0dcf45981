"""The ports the core talks through. Adapters implement them; the core never imports one.

Each protocol is small and states its contract: who retries, what is idempotent and
what may raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Protocol

from bot.core.feed_added import FeedAdded
from bot.core.models import (
    Briefing,
    ChannelRef,
    ChannelSettings,
    FeedInfo,
    Story,
)


class Summarizer(Protocol):
    """Turns one article into 1–3 sentences drawn from its body.

    Pure CPU work, deterministic for the same input; callers run it in an executor.
    May raise ``SummarizeError``; the caller then falls back to the article's lead.
    """

    def summarize(self, title: str, text: str) -> str: ...

    def summarize_many(self, items: Sequence[tuple[str, str]]) -> list[str]:
        """``summarize`` of each (title, text), in order; an article's summary never
        depends on the rest of the batch. When it raises, the caller summarises the
        articles one by one."""
        ...


class SaveOutcome(Enum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class StoryReader(Protocol):
    """The read side the briefing needs; the store's article repository implements it."""

    async def stories_between(
        self,
        start: datetime,
        end: datetime,
        limit: int = 300,
        words: Sequence[str] = (),
        feed_ids: Sequence[int] | None = None,
    ) -> Sequence[Story]:
        """Stories with an article published in [start, end), most recently updated first.

        With ``words``, only stories with an article whose title or summary contains one
        of them (case-insensitive). With ``feed_ids``, only articles from those feeds or
        the seed folder count. Each story carries only its matching in-window articles.
        """
        ...


class ChannelStore(Protocol):
    """Per-channel settings; ``channel()`` creates the row with defaults when absent."""

    async def channel(self, ref: ChannelRef) -> ChannelSettings: ...

    async def save_channel(self, settings: ChannelSettings) -> None: ...


class StoryArchive(Protocol):
    """What the story drill-down reads: the stories a channel was last shown, and one
    stored story in full. ``remember`` replaces the channel's list (idempotent)."""

    async def remember(self, ref: ChannelRef, story_ids: Sequence[int]) -> None: ...

    async def last_shown(self, ref: ChannelRef) -> Sequence[int]:
        """Story ids of the channel's last briefing, in the order shown (may be empty)."""
        ...

    async def story(self, story_id: int) -> Story | None:
        """The story with every member article, oldest first, its ``summary`` the longer
        one (up to 6 sentences drawn across members); None once it is gone (pruned,
        or merged into another story)."""
        ...


class FeedRegistry(Protocol):
    """Feeds a channel subscribes to. ``subscribe`` validates the URL (scheme, SSRF)
    and raises ``CommandError`` with a message fit for the user when it refuses."""

    async def subscribe(self, ref: ChannelRef, url: str) -> FeedAdded: ...

    async def unsubscribe(self, ref: ChannelRef, url_or_id: str) -> FeedInfo: ...

    async def retry(self, url_or_id: str) -> FeedInfo:
        """Poll a failing or stopped feed again at once."""
        ...

    async def feeds(self, ref: ChannelRef | None = None) -> Sequence[FeedInfo]: ...

    async def feed_ids(self, ref: ChannelRef) -> Sequence[int]:
        """The ids of the feeds a channel follows (cheap: no health figures)."""
        ...


class Publisher(Protocol):
    """Posts a briefing to one channel of one platform.

    ``delivery_key`` is stable per (channel, slot): an implementation that can make the
    post idempotent (Discord nonce, Slack message metadata) uses it. Returns the platform
    message ids. Raises ``DeliveryError`` (with ``retry_after`` when the platform said so);
    the outbox retries, the publisher does not.
    """

    platform: str

    async def publish(
        self, ref: ChannelRef, briefing: Briefing, delivery_key: str
    ) -> list[str]: ...


class Notifier(Protocol):
    """Posts a short notice to a channel (a feed stopped or came back). The text is built
    from feed titles and errors, so every implementation makes it inert for its platform
    (no mentions, no markup). Raises ``DeliveryError`` like a publisher."""

    async def notify(self, ref: ChannelRef, text: str) -> None: ...
