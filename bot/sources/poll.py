"""One poll of one feed: conditional fetch, parse off the event loop, new fetch state.

The poller owns no database. A caller hands in the feed's stored state (any object with
``url``, ``etag``, ``last_modified``, ``body_hash``, ``failure_count`` and
``interval_s``, e.g. ``bot.store.feeds.FeedState``) and gets a ``PollResult``: the drafts
plus the state to store (``result.state_updates()``). Parsing runs in a process pool so
every core works; identical bytes (same sha256 as last time) are not parsed again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot import metrics
from bot.core.models import ArticleDraft
from bot.errors import FetchError, ParseError
from bot.sources.fetch import Fetcher, FetchResult, Kind, classify_exception
from bot.sources.parse import ParsedFeed, parse_feed

log = logging.getLogger(__name__)


class PollState(Protocol):
    """What the poller reads from a stored feed (``bot.store.feeds.FeedState`` fits)."""

    @property
    def url(self) -> str: ...
    @property
    def etag(self) -> str | None: ...
    @property
    def last_modified(self) -> str | None: ...
    @property
    def body_hash(self) -> str | None: ...
    @property
    def failure_count(self) -> int: ...
    @property
    def interval_s(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FeedPollState:
    """A plain ``PollState`` for callers without a store (benchmarks, tests)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    failure_count: int = 0
    interval_s: int = 900


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """Bounds on polling intervals: hints and backoff are clamped into them."""

    min_interval_s: int = 300
    max_interval_s: int = 24 * 3600
    max_backoff_s: int = 24 * 3600


class Outcome(StrEnum):
    PARSED = "parsed"  # new bytes, parsed: drafts holds every item of the feed
    NOT_MODIFIED = "not_modified"  # HTTP 304
    UNCHANGED = "unchanged"  # 200 with the same bytes as last time: parse skipped
    FAILED = "failed"  # see error_kind / last_error; retried with backoff
    GONE = "gone"  # HTTP 410: stop polling


@dataclass(frozen=True, slots=True)
class PollResult:
    """The outcome of one poll and the feed state to store."""

    url: str
    outcome: Outcome
    fetched_at: datetime
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    failure_count: int
    next_fetch_at: datetime | None  # None once the feed is gone
    gone: bool = False
    last_error: str | None = None
    error_kind: str | None = None
    retry_after: float | None = None
    drafts: tuple[ArticleDraft, ...] = ()
    feed: ParsedFeed | None = None
    bozo: str | None = None
    new_url: str | None = None  # the feed moved permanently (301/308): store this URL
    interval_s: int | None = None  # the interval used for next_fetch_at on success

    @property
    def title(self) -> str | None:
        return self.feed.title if self.feed else None

    def state_updates(self) -> dict[str, Any]:
        """Field values for ``dataclasses.replace(stored_state, **updates)``."""
        updates: dict[str, Any] = {
            "etag": self.etag,
            "last_modified": self.last_modified,
            "body_hash": self.body_hash,
            "failure_count": self.failure_count,
            "last_error": self.last_error,
            "next_fetch_at": self.next_fetch_at,
            "last_fetch_at": self.fetched_at,
            "gone": self.gone,
        }
        if self.title:
            updates["title"] = self.title
        return updates


def parse_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool for ``parse_feed`` (spawned workers: safe beside an event loop).

    Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent shuts
    the pool down itself, without a traceback from every idle worker.
    """
    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=signal.signal,
        initargs=(signal.SIGINT, signal.SIG_IGN),
    )


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# Bodies larger than this are hashed in a thread (hashlib lets go of the GIL): a cycle of
# unchanged feeds is mostly hashing, and the event loop's core has the polls to run.
_HASH_IN_THREAD = 64 * 1024


async def _digest(body: bytes) -> str:
    if len(body) < _HASH_IN_THREAD:
        return body_hash(body)
    return await asyncio.get_running_loop().run_in_executor(None, body_hash, body)


class Poller:
    """Polls feeds through one ``Fetcher``; parses in ``executor`` (None: a thread)."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        executor: Executor | None = None,
        policy: PollPolicy | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.executor = executor
        self.policy = policy or PollPolicy()

    async def poll(self, state: PollState, *, now: datetime | None = None) -> PollResult:
        """Fetch and parse one feed. Never raises for the feed's own failures."""
        now = now or datetime.now(UTC)
        started = time.perf_counter()
        try:
            fetched = await self.fetcher.fetch(
                state.url, etag=state.etag, last_modified=state.last_modified
            )
        except FetchError as exc:
            metrics.FETCH_SECONDS.observe(time.perf_counter() - started)
            return self._failed(state, exc, now)
        metrics.FETCH_SECONDS.observe(time.perf_counter() - started)
        new_url = fetched.permanent_url
        if fetched.not_modified:
            return self._ok(state, fetched, Outcome.NOT_MODIFIED, state.body_hash, now, new_url)
        digest = await _digest(fetched.body)
        if digest == state.body_hash:
            return self._ok(state, fetched, Outcome.UNCHANGED, digest, now, new_url)
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            parsed = await loop.run_in_executor(
                self.executor,
                _parse_job,
                fetched.body,
                fetched.final_url,
                fetched.content_type,
                now,
            )
        except ParseError as exc:
            error = classify_exception(state.url, exc, total_timeout=0)
            return self._failed(state, error, now)
        except BrokenExecutor:
            raise  # the pool itself is gone: not this feed's fault
        except Exception as exc:  # a parser bug on odd bytes must not stop the cycle
            log.exception("poll: feed_url=%s parser crashed", state.url)
            message = f"fetch: {state.url}: parse failed ({type(exc).__name__}: {exc})"
            return self._failed(state, FetchError(message, Kind.NOT_A_FEED.value), now)
        metrics.PARSE_SECONDS.observe(time.perf_counter() - started)
        if parsed.bozo:
            log.info("poll: feed_url=%s parsed with warnings: %s", state.url, parsed.bozo)
        result = self._ok(state, fetched, Outcome.PARSED, digest, now, new_url, parsed)
        return result

    async def poll_all(
        self, states: Iterable[PollState], *, concurrency: int = 16
    ) -> AsyncIterator[PollResult]:
        """Poll many feeds, yielding results as they finish.

        At most ``concurrency`` polls are in flight and as many results wait for the
        caller, which bounds the bodies and drafts held in memory. A caller that may stop
        early wraps the call in ``contextlib.aclosing`` so unfinished polls are cancelled.
        """
        queue: asyncio.Queue[PollResult | BaseException | None] = asyncio.Queue(concurrency)
        pending = iter(states)

        async def worker() -> None:
            try:
                for state in pending:
                    await queue.put(await self.poll(state))
            except Exception as exc:  # handed to the consumer, who re-raises it
                await queue.put(exc)
                return
            await queue.put(None)

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            running = len(workers)
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _interval(self, state: PollState, fetched: FetchResult, feed: ParsedFeed | None) -> int:
        hints = [state.interval_s, fetched.max_age or 0, (feed.interval_hint_s or 0) if feed else 0]
        return min(self.policy.max_interval_s, max(self.policy.min_interval_s, *hints))

    def _ok(
        self,
        state: PollState,
        fetched: FetchResult,
        outcome: Outcome,
        digest: str | None,
        now: datetime,
        new_url: str | None,
        feed: ParsedFeed | None = None,
    ) -> PollResult:
        interval = self._interval(state, fetched, feed)
        return PollResult(
            url=state.url,
            outcome=outcome,
            fetched_at=now,
            etag=fetched.etag or (state.etag if fetched.not_modified else None),
            last_modified=fetched.last_modified
            or (state.last_modified if fetched.not_modified else None),
            body_hash=digest,
            failure_count=0,
            next_fetch_at=now + timedelta(seconds=interval),
            drafts=tuple(feed.entries) if feed else (),
            feed=feed,
            bozo=feed.bozo if feed else None,
            new_url=new_url,
            interval_s=interval,
        )

    def _failed(self, state: PollState, error: FetchError, now: datetime) -> PollResult:
        """Exponential backoff from the feed's interval; Retry-After as a floor; 410 ends."""
        failures = state.failure_count + 1
        gone = error.kind == Kind.GONE
        next_at: datetime | None = None
        if not gone:
            base = max(self.policy.min_interval_s, state.interval_s)
            delay = min(self.policy.max_backoff_s, base * 2 ** min(failures - 1, 20))
            if error.retry_after is not None:
                delay = max(delay, min(self.policy.max_backoff_s, int(error.retry_after)))
            next_at = now + timedelta(seconds=delay)
        metrics.FEED_FAILURES.labels(kind=error.kind).inc()
        log.warning(
            "poll: feed_url=%s kind=%s failures=%d: %s", state.url, error.kind, failures, error
        )
        return PollResult(
            url=state.url,
            outcome=Outcome.GONE if gone else Outcome.FAILED,
            fetched_at=now,
            etag=state.etag,
            last_modified=state.last_modified,
            body_hash=state.body_hash,
            failure_count=failures,
            next_fetch_at=next_at,
            gone=gone,
            last_error=str(error),
            error_kind=error.kind,
            retry_after=error.retry_after,
        )


def _parse_job(
    body: bytes, url: str, content_type: str | None, now: datetime
) -> ParsedFeed:  # pragma: no cover - runs in a worker process
    return parse_feed(body, url=url, content_type=content_type, now=now)
