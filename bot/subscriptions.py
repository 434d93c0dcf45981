"""Feeds and the channels that follow them: the ``FeedRegistry`` the commands use.

Every URL passes the SSRF guard before it is stored, so a chat user can never make the
bot fetch a private address, a cloud metadata endpoint or a local file.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import ChannelRef, FeedInfo
from bot.errors import CommandError, FetchError
from bot.sources.ssrf import Resolver, check_url
from bot.store.db import Database

MAX_URL_LENGTH = 2048


class Subscriptions:
    def __init__(
        self,
        db: Database,
        *,
        allow_private_networks: bool = False,
        resolver: Resolver | None = None,
        interval_s: int = 900,
        backfill: int = 0,
    ) -> None:
        self._db = db
        self._allow_private = allow_private_networks
        self._resolver = resolver
        self._interval_s = interval_s
        self._backfill = backfill

    async def add_feed(self, url: str) -> tuple[FeedInfo, bool]:
        """Validate and store a feed URL; returns (feed, created). Raises CommandError."""
        url = url.strip()
        if not url or len(url) > MAX_URL_LENGTH:
            raise CommandError("That doesn't look like a feed URL.")
        try:
            await check_url(
                url, allow_private_networks=self._allow_private, resolver=self._resolver
            )
        except FetchError as exc:
            reason = str(exc).split(": ", 2)[-1]
            raise CommandError(f"I can't add {url}: {reason}") from None
        feed_id, created = await self._db.feeds.add(url, self._interval_s, self._backfill)
        return (await self._info(feed_id)), created

    async def _info(self, feed_id: int) -> FeedInfo:
        infos = await self._db.feeds.health([feed_id])
        if not infos:
            raise CommandError(f"There is no feed {feed_id}.")
        return infos[0]

    async def find(self, url_or_id: str) -> FeedInfo:
        key = url_or_id.strip()
        if key.isdigit():
            return await self._info(int(key))
        state = await self._db.feeds.by_url(key)
        if state is None:
            raise CommandError(f"I don't know the feed {key}. `/briefing feeds` lists them.")
        return await self._info(state.id)

    async def remove_feed(self, url_or_id: str) -> FeedInfo:
        feed = await self.find(url_or_id)
        await self._db.feeds.remove(feed.id)
        return feed

    async def subscribe(self, ref: ChannelRef, url: str) -> FeedInfo:
        feed, _created = await self.add_feed(url)
        await self._db.channels.subscribe(ref, feed.id)
        return feed

    async def unsubscribe(self, ref: ChannelRef, url_or_id: str) -> FeedInfo:
        feed = await self.find(url_or_id)
        if not await self._db.channels.unsubscribe(ref, feed.id):
            raise CommandError(f"This channel is not subscribed to {feed.url}.")
        return feed

    async def feeds(self, ref: ChannelRef | None = None) -> Sequence[FeedInfo]:
        if ref is None:
            return await self._db.feeds.health()
        ids = await self._db.channels.feed_ids(ref)
        return await self._db.feeds.health(ids) if ids else []
