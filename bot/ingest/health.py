"""Feeds that stop working are told to the channels that follow them, once.

Peers' users complain most about feeds that "silently stop". A channel hears when a
feed it follows starts failing (after a few failures in a row, or at once for an answer
that will not change by itself: 401/403, 404, 410), once more when it recovers, and once
when polling stops after ``[sources] disable_after_days`` of failing. The notice state
lives in the ``feeds`` row and moves by compare-and-set, so of several worker processes
exactly one sends each notice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.models import ChannelRef
from bot.core.ports import Notifier
from bot.errors import DeliveryError
from bot.store.db import Database
from bot.store.feeds import FeedState

log = logging.getLogger(__name__)

FAILURES_BEFORE_NOTICE = 3
AT_ONCE = frozenset({"unauthorized", "not_found", "gone"})


def _name(state: FeedState) -> str:
    return f"[{state.id}] {state.title or state.url}"


def _since(when: datetime | None) -> str:
    return f"{when.astimezone(UTC):%d %b %H:%M} UTC" if when else "just now"


class FeedHealth:
    def __init__(self, db: Database, *, disable_after_days: float = 14.0) -> None:
        self._db = db
        self._disable_after = timedelta(days=disable_after_days) if disable_after_days else None
        #: Set by `briefbot run` once the chat adapters exist; None: notices are only logged.
        self.notifier: Notifier | None = None

    async def after_poll(
        self, before: FeedState, after: FeedState, error_kind: str | None, now: datetime
    ) -> None:
        """Called with the feed's state before and after one poll (already recorded)."""
        if after.last_error is None:
            if before.alert_state == "failing" and await self._db.feeds.claim_alert(
                after.id, "failing", None
            ):
                await self._tell(
                    after.id,
                    f"✅ Feed {_name(after)} works again (it had failed since "
                    f"{_since(before.failing_since)}).",
                )
            return
        current = before.alert_state
        if (
            current is None
            and (after.failure_count >= FAILURES_BEFORE_NOTICE or error_kind in AT_ONCE)
            and await self._db.feeds.claim_alert(after.id, None, "failing")
        ):
            current = "failing"
            await self._tell(
                after.id,
                f"⚠ Feed {_name(after)} has been failing since {_since(after.failing_since)}: "
                f"{after.last_error}. I keep retrying; `/briefing status` shows its health.",
            )
        since = after.failing_since
        if (
            self._disable_after is not None
            and since is not None
            and now - since >= self._disable_after
            and await self._db.feeds.claim_alert(
                after.id, after.alert_state or "failing", "disabled"
            )
        ):
            await self._db.feeds.record(replace(after, gone=True))
            days = self._disable_after.total_seconds() / 86400
            await self._tell(
                after.id,
                f"⛔ Feed {_name(after)} has failed for {days:g} days ({after.last_error}), "
                f"so I stopped polling it. An admin can try again with "
                f"`/briefing feeds retry {after.id}`.",
            )

    async def _tell(self, feed_id: int, text: str) -> None:
        followers = await self._db.channels.followers(feed_id)
        log.warning("feed health: feed_id=%s %s (channels: %d)", feed_id, text, len(followers))
        if self.notifier is None:
            return
        for ref in followers:
            await self._send(ref, text)

    async def _send(self, ref: ChannelRef, text: str) -> None:
        assert self.notifier is not None
        try:
            await self.notifier.notify(ref, text)
        except DeliveryError as exc:  # one channel's trouble never stops polling
            log.warning("feed health: notice to channel=%s failed: %s", ref.channel, exc)
