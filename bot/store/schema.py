"""The one schema, for SQLite and PostgreSQL alike (DESIGN.md §3).

Changes go through an Alembic revision in ``bot/store/migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores naive text and forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTC_DATETIME = UTCDateTime()

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("title", Text),
    Column("site_url", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("interval_s", Integer, nullable=False, default=900),
    Column("next_fetch_at", UTC_DATETIME),
    Column("last_fetch_at", UTC_DATETIME),
    Column("failure_count", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("gone", Boolean, nullable=False, default=False),
    Column("backfill", Integer, nullable=False, default=0),
    # Feed health notices: since when the feed fails, and what the channels were told
    # (None, "failing", "disabled"), so they hear once, not once per failure.
    Column("failing_since", UTC_DATETIME),
    Column("alert_state", String(16)),
    Column("lease_owner", String(128)),
    Column("lease_until", UTC_DATETIME),
    Column("created_at", UTC_DATETIME, nullable=False),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("first_seen", UTC_DATETIME, nullable=False),
    Column("last_updated", UTC_DATETIME, nullable=False),
    Column("article_count", Integer, nullable=False, default=0),
    Column("source_count", Integer, nullable=False, default=0),
    Index("ix_stories_last_updated", "last_updated"),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("origin", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("canonical_url", String(2048)),
    Column("title", Text, nullable=False),
    Column("standfirst", Text),
    Column("author", Text),
    Column("language", String(16)),
    Column("published_at", UTC_DATETIME, nullable=False),
    Column("fetched_at", UTC_DATETIME, nullable=False),
    Column("text", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="SET NULL")),
    Index("ix_articles_published_at", "published_at"),
    Index("ix_articles_story_id", "story_id"),
    Index("ix_articles_canonical_url", "canonical_url"),
    Index("ix_articles_content_hash", "content_hash"),
)

# Every key a source ever produced, kept after its article is pruned (a tombstone), so a
# deleted item that re-appears never re-posts. One article may have keys in several feeds.
item_keys = Table(
    "item_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("origin", String(64), nullable=False),
    Column("item_key", String(512), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="SET NULL")),
    Column("first_seen", UTC_DATETIME, nullable=False),
    UniqueConstraint("origin", "item_key", name="uq_item_keys_origin_key"),
    Index("ix_item_keys_article_id", "article_id"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False, default=""),
    Column("channel", String(64), nullable=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("topics", Text, nullable=False, default="[]"),
    Column("schedule", String(128)),
    Column("max_stories", Integer),
    Column("created_at", UTC_DATETIME, nullable=False),
    # Set when a digest can never be delivered (channel gone, bot removed, token
    # revoked): the schedule stops until an admin sets it again.
    Column("paused_reason", Text),
    # Muted words and outlets, JSON {"words": [...], "sources": [...]} (None: none).
    Column("mutes", Text),
    # Whom each scheduled digest pings, JSON {"kind", "id", "label"} (None: no one).
    Column("mention", Text),
    # Thread mode: a digest is a header message with the stories in its thread.
    Column("threads", Boolean),
    # Story ids of the channel's last briefing, JSON list in the order shown.
    Column("last_briefing", Text),
    # A personal digest (channel ``dm:<user>``) follows this channel of the same
    # platform and workspace: its feeds, topics and mutes (None: an ordinary channel).
    Column("origin", String(64)),
    UniqueConstraint("platform", "workspace", "channel", name="uq_channels_ref"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTC_DATETIME, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("slot_key", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message_ids", Text, nullable=False, default="[]"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("snapshot", Text),  # the briefing as first rendered: a resume re-sends it
    Column("next_attempt_at", UTC_DATETIME),
    Column("created_at", UTC_DATETIME, nullable=False),
    Column("updated_at", UTC_DATETIME, nullable=False),
    UniqueConstraint("channel_id", "slot_key", name="uq_deliveries_slot"),
)

delivered_stories = Table(
    "delivered_stories",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("delivered_at", UTC_DATETIME, nullable=False),
)
