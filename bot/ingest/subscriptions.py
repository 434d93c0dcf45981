"""Feeds and the channels that follow them: the ``FeedRegistry`` the commands use.

Every URL passes the SSRF guard before it is stored, so a chat user can never make the
bot fetch a private address, a cloud metadata endpoint or a local file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from bot.core.models import ChannelRef, FeedInfo
from bot.errors import CommandError, FetchError
from bot.sources.ssrf import Resolver, check_url
from bot.store.db import Database

MAX_URL_LENGTH = 2048

Probe = Callable[[str], Awaitable[object]]


def _reason(exc: FetchError) -> str:
    """The part of ``fetch: <url>: <reason>`` a user needs (the URL is already shown)."""
    return str(exc).split(": ", 2)[-1]


class Subscriptions:
    def __init__(
        self,
        db: Database,
        *,
        allow_private_networks: bool = False,
        resolver: Resolver | None = None,
        interval_s: int = 900,
        backfill: int = 0,
        trusted_hosts: frozenset[str] = frozenset(),
        probe: Probe | None = None,
    ) -> None:
        self.probe = probe
        self._trusted = trusted_hosts
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
        first_error: str | None = None
        try:
            if urlsplit(url).hostname not in self._trusted:
                await check_url(
                    url, allow_private_networks=self._allow_private, resolver=self._resolver
                )
            if self.probe is not None:
                # One real fetch through the guarded fetcher: a redirect to a private
                # address is refused here, not discovered later by the poller.
                try:
                    await self.probe(url)
                except FetchError as exc:
                    if exc.kind in {"ssrf", "bad_url"}:
                        raise
                    first_error = str(exc)
        except FetchError as exc:
            raise CommandError(f"I can't add {url}: {_reason(exc)}") from None
        feed_id, created = await self._db.feeds.add(url, self._interval_s, self._backfill)
        if first_error and created:
            state = await self._db.feeds.by_id(feed_id)
            if state is not None:
                await self._db.feeds.record(replace(state, last_error=first_error))
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

    async def retry(self, url_or_id: str) -> FeedInfo:
        feed = await self.find(url_or_id)
        await self._db.feeds.retry(feed.id)
        return await self._info(feed.id)

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

    async def feed_ids(self, ref: ChannelRef) -> Sequence[int]:
        return await self._db.channels.feed_ids(ref)
