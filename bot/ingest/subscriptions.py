"""Feeds and the channels that follow them: the ``FeedRegistry`` the commands use.

Every URL passes the SSRF guard before it is stored, so a chat user can never make the
bot fetch a private address, a cloud metadata endpoint or a local file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from bot.core.feed_added import FeedAdded
from bot.core.models import ChannelRef, FeedInfo
from bot.errors import CommandError, FetchError, ParseError
from bot.sources.discover import alternate_links, fallback_urls, from_feed_scheme, looks_like_html
from bot.sources.fetch import FetchResult, is_transient
from bot.sources.parse import ParsedFeed, parse_feed
from bot.sources.ssrf import Resolver, check_url
from bot.store.db import Database

MAX_URL_LENGTH = 2048
RETRY_SOON_S = 60

#: One guarded fetch of a URL (the same fetcher, SSRF guard and limits as polling).
Probe = Callable[[str], Awaitable[FetchResult]]


@dataclass
class Found:
    """What probing a URL found: the feed to store, or why there is none."""

    url: str
    feed: ParsedFeed | None = None
    error: FetchError | None = None
    discovered_on: str | None = None
    alternatives: list[str] = field(default_factory=list)


Attempt = tuple[FetchResult | None, ParsedFeed | None, FetchError | None]


async def _parse(fetched: FetchResult) -> ParsedFeed:
    return await asyncio.to_thread(
        parse_feed, fetched.body, url=fetched.final_url, content_type=fetched.content_type
    )


def _not_a_feed(url: str, detail: str) -> FetchError:
    return FetchError(f"fetch: {url}: {detail}", "not_a_feed")


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

    async def _guard(self, url: str) -> None:
        if urlsplit(url).hostname not in self._trusted:
            await check_url(
                url, allow_private_networks=self._allow_private, resolver=self._resolver
            )

    async def _try(
        self, url: str
    ) -> tuple[FetchResult | None, ParsedFeed | None, FetchError | None]:
        """Fetch and parse one candidate; never raises for the candidate's own trouble."""
        assert self.probe is not None
        try:
            await self._guard(url)
            fetched = await self.probe(url)
        except FetchError as exc:
            return None, None, exc
        try:
            return fetched, await _parse(fetched), None
        except ParseError as exc:
            return fetched, None, _not_a_feed(url, str(exc).split(": ", 2)[-1])

    async def _find(self, url: str) -> Found:
        """The URL itself when it is a feed; else the feeds its page links to; else the
        conventional paths on its host. The first that parses wins."""
        fetched, feed, error = await self._try(url)
        if (
            feed is not None
            or fetched is None
            or not looks_like_html(fetched.body, fetched.content_type)
        ):
            return Found(url, feed, error)
        page = fetched.final_url
        links = alternate_links(fetched.body, page)
        candidates = links or [u for u in fallback_urls(page) if u != url]
        first_error: FetchError | None = None
        for candidate in candidates:
            _, found, problem = await self._try(candidate)
            if found is not None:
                others = [c for c in links if c != candidate]
                return Found(candidate, found, None, page, others)
            if problem is not None and (problem.kind == "ssrf" or first_error is None):
                first_error = problem
        if links and first_error is not None:
            return Found(url, None, first_error)
        return Found(url, None, _not_a_feed(url, "a web page that names no feed"))

    async def add_feed(self, url: str, *, strict: bool = True) -> FeedAdded:
        """Probe, then store a feed URL. Raises CommandError when it is refused.

        A feed that answers is stored with its title; a web page leads to the feed it
        names. A permanent failure (not a feed, 404, 410, too large, the SSRF guard) is
        refused and nothing is stored; a passing one (timeout, 5xx, 429, DNS) is stored
        with the error and retried. ``strict=False`` (feeds from the config file) stores
        permanent failures too, with their error, and refuses only what the guard refuses.
        """
        url = from_feed_scheme(url)
        if not url or len(url) > MAX_URL_LENGTH:
            raise CommandError("That doesn't look like a feed URL.")
        try:
            await self._guard(url)
        except FetchError as exc:
            raise CommandError(f"I can't add {url}: {_reason(exc)}") from None
        if self.probe is None:
            feed_id, created = await self._db.feeds.add(url, self._interval_s, self._backfill)
            return FeedAdded(await self._info(feed_id), created)
        found = await self._find(url)
        error = found.error
        if error is not None and (
            error.kind in {"ssrf", "bad_url"} or (strict and not is_transient(error.kind))
        ):
            raise CommandError(f"I can't add {url}: {_reason(error)}")
        feed_id, created = await self._db.feeds.add(found.url, self._interval_s, self._backfill)
        state = await self._db.feeds.by_id(feed_id)
        assert state is not None
        now = datetime.now(UTC)
        retry_at = None
        if error is not None and created:
            # Due at once: the next poll (every minute under `briefbot run`) retries it,
            # unless the server asked for more time; then the poller's backoff applies.
            wait = int(error.retry_after or 0)
            retry_at = now + timedelta(seconds=max(RETRY_SOON_S, wait))
            state = replace(
                state,
                last_error=str(error),
                next_fetch_at=retry_at if wait > RETRY_SOON_S else None,
            )
            await self._db.feeds.record(state)
        elif found.feed is not None and found.feed.title and not state.title:
            await self._db.feeds.record(replace(state, title=found.feed.title[:500]))
        entries = found.feed.entries if found.feed else []
        latest = max((e.published_at for e in entries), default=None)
        return FeedAdded(
            await self._info(feed_id),
            created,
            items=found.feed.raw_entries if found.feed else 0,
            latest=latest,
            discovered_on=found.discovered_on,
            alternatives=tuple(found.alternatives),
            warning=_reason(error) if error is not None else None,
            retry_at=retry_at,
        )

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

    async def subscribe(self, ref: ChannelRef, url: str) -> FeedAdded:
        added = await self.add_feed(url)
        await self._db.channels.subscribe(ref, added.feed.id)
        return added

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
