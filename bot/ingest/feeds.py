"""One feed-ingest cycle: lease due feeds, poll them, enrich teasers, store, record health.

Several processes can run cycles against one PostgreSQL database: each leases the feeds
it polls, so a feed is fetched by one worker at a time. A failing feed records its error
and backs off; the rest of the cycle goes on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from bot import metrics
from bot.config import Settings
from bot.core import logcontext
from bot.core.models import ArticleDraft
from bot.ingest.health import FeedHealth
from bot.ingest.pipeline import IngestStats, OriginDrafts, Pipeline, content_hash
from bot.sources.extract import FullTextExtractor
from bot.sources.fetch import Fetcher, options_from_settings
from bot.sources.poll import Outcome, Poller, PollPolicy, PollResult
from bot.sources.ssrf import Resolver
from bot.store import batch
from bot.store.db import Database
from bot.store.feeds import FeedState

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# Feed polls with items stored together (at most; a lease batch's last ones go
# together): one key lookup, one summarising call and one transaction for their
# articles, one for their stories, then one for their states. A transaction per feed was
# a few thousand thread round trips per cycle on SQLite. 64 held the main process's RSS
# ~40 MB higher through a cycle than 16 (bench/memory.py); 16 keeps most of the saving.
# Polls without items (304, unchanged bytes, errors) hold no memory to speak of: they
# wait for the next batch with items or the lease batch's end (an unchanged cycle of
# 1,000 feeds: 0.46 -> 0.37 s, its state transactions from 63 to about 4).
_STORE_BATCH = 16


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class CycleReport:
    feeds: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    stats: IngestStats = field(default_factory=IngestStats)
    seen_on_first_run: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(self.outcomes.items()))
        seen = (
            f", {self.seen_on_first_run} existing items marked seen"
            if self.seen_on_first_run
            else ""
        )
        return (
            f"ingest: {self.feeds} feeds ({parts or 'none due'}), {self.stats}{seen} "
            f"in {self.seconds:.1f} s"
        )


class FeedIngest:
    """Owns the fetcher, poller and full-text extractor for the life of the process."""

    def __init__(
        self,
        db: Database,
        pipeline: Pipeline,
        settings: Settings,
        *,
        parse_executor: Executor | None = None,
        resolver: Resolver | None = None,
        owner: str | None = None,
    ) -> None:
        self._db = db
        self._pipeline = pipeline
        self._settings = settings
        self._owner = owner or worker_id()
        self.fetcher = Fetcher(options_from_settings(settings.sources), resolver=resolver)
        self.poller = Poller(
            self.fetcher,
            executor=parse_executor,
            policy=PollPolicy(min_interval_s=60),
        )
        self.extractor = FullTextExtractor(self.fetcher, threshold=settings.sources.teaser_chars)
        self.health = FeedHealth(db, disable_after_days=settings.sources.disable_after_days)

    async def close(self) -> None:
        await self.fetcher.close()

    async def run_once(
        self,
        *,
        now: datetime | None = None,
        backfill: int | None = None,
        progress: Progress | None = None,
        limit: int = 10_000,
        batch: int | None = None,
    ) -> CycleReport:
        """Poll the due feeds, leasing them ``batch`` at a time until none is left.

        Small leases share a cycle among processes: each takes the next batch when it
        is free, rather than the first one to wake leasing every due feed.
        """
        started = time.monotonic()
        now = now or datetime.now(UTC)
        report = CycleReport()
        size = batch or max(16, 4 * self._settings.sources.global_concurrency)
        total = await self._db.feeds.count_due(now) if progress else 0
        done = 0
        polled: set[int] = set()
        if progress:
            progress(0, total)
        while report.feeds < limit:
            # The cycle's clock moves on, so a batch leased late gets a full lease.
            elapsed = timedelta(seconds=time.monotonic() - started)
            states = await self._db.feeds.lease_due(
                self._owner, now + elapsed, limit=min(size, limit - report.feeds)
            )
            fresh = [s for s in states if s.id not in polled]
            # Due again at once (a clock in the future): release their leases, together.
            await self._db.feeds.record_many([s for s in states if s.id in polled])
            if not fresh:
                break
            states = fresh
            polled.update(s.id for s in states)
            report.feeds += len(states)
            by_url = {s.url: s for s in states}
            polls: list[tuple[FeedState, PollResult]] = []
            heavy = 0  # polls that bring items: only those weigh on memory
            async for result in self.poller.poll_all(
                states, concurrency=self._settings.sources.global_concurrency
            ):
                polls.append((by_url[result.url], result))
                heavy += bool(result.drafts)
                if heavy >= _STORE_BATCH:
                    done = await self._store_batch(polls, report, backfill, done, total, progress)
                    heavy = 0
            done = await self._store_batch(polls, report, backfill, done, total, progress)
        if progress and done < total:  # other workers took the rest
            progress(done, done)
        report.seconds = time.monotonic() - started
        return report

    async def _store_batch(
        self,
        polls: list[tuple[FeedState, PollResult]],
        report: CycleReport,
        backfill: int | None,
        done: int,
        total: int,
        progress: Progress | None,
    ) -> int:
        """Store the polls' articles together, then their feeds' new states; returns how
        many feeds are done. A feed whose articles the pipeline could not store (it
        falls back to one feed at a time, so one feed's trouble costs only that feed)
        keeps its old state."""
        items: list[tuple[FeedState, FeedState, PollResult, OriginDrafts | None]] = []
        for state, result in polls:
            try:
                with logcontext.bind(feed_id=state.id):
                    after, drafts = await self._prepare(state, result, report, backfill)
                items.append((state, after, result, drafts))
            except Exception as exc:
                log.exception("ingest: feed_url=%s failed to prepare its items", state.url)
                await self._store_failed(state, exc.__class__.__name__, report)
        stats = await self._pipeline.ingest_many(
            [drafts for *_, drafts in items if drafts is not None], prepare=self._enriched
        )
        report.stats.add(stats)
        stored: list[tuple[FeedState, FeedState, PollResult]] = []
        for state, after, result, drafts in items:
            error = stats.failed.get(drafts.origin) if drafts is not None else None
            if error is None:
                stored.append((state, after, result))
            else:  # logged with its traceback by the pipeline
                await self._store_failed(state, error, report)
        await self._record(stored)
        for _ in polls:
            done += 1
            if progress:
                progress(done, max(total, done))
        polls.clear()
        return done

    async def _store_failed(self, state: FeedState, error: str, report: CycleReport) -> None:
        """The feed keeps its old state (its bytes are parsed again next time) and says
        why; ``error`` is the exception's class name."""
        log.warning("ingest: feed_url=%s not stored (%s); read again next poll", state.url, error)
        report.errors.append((state.url, f"store: {error}"))
        await self._db.feeds.record(dataclasses.replace(state, last_error=f"store: {error}"))

    async def _record(self, polls: list[tuple[FeedState, FeedState, PollResult]]) -> None:
        """Store the feeds' new states (releasing their leases) in one transaction, then
        tell feed health. Their articles are stored already: a crash before this only
        means those feeds are fetched again, and their items are known by then."""
        if not polls:
            return
        try:
            await self._db.feeds.record_many([after for _, after, _ in polls])
        except IntegrityError:  # e.g. two feeds moved to one URL: record them one by one
            polls[:] = [p for p in polls if await self._record_one(*p)]
        for before, after, result in polls:
            try:
                await self.health.after_poll(before, after, result.error_kind, result.fetched_at)
            except Exception:  # a notice that fails must not cost the other feeds theirs
                log.exception("ingest: feed_url=%s health notice failed", after.url)
        polls.clear()

    async def _record_one(self, before: FeedState, after: FeedState, _: PollResult) -> bool:
        try:
            await self._db.feeds.record(after)
            return True
        except IntegrityError as exc:
            log.warning("ingest: feed_url=%s state not stored: %s", before.url, exc)
            await self._db.feeds.record(
                dataclasses.replace(before, last_error=f"store: {exc.__class__.__name__}")
            )
            return False

    async def _prepare(
        self, state: FeedState, result: PollResult, report: CycleReport, backfill: int | None
    ) -> tuple[FeedState, OriginDrafts | None]:
        """The feed's new state, for ``_record``, and the poll's drafts to store."""
        report.outcomes[result.outcome.value] = report.outcomes.get(result.outcome.value, 0) + 1
        metrics.FEEDS_POLLED.labels(outcome=result.outcome.value).inc()
        if result.last_error:
            report.errors.append((state.url, result.last_error))
        updates = result.state_updates()
        if result.interval_s:
            updates["interval_s"] = result.interval_s
        if result.new_url and await self._db.feeds.by_url(result.new_url) is None:
            log.info("ingest: feed moved permanently: %s -> %s", state.url, result.new_url)
            updates["url"] = result.new_url
        batch_drafts = None
        if result.outcome is Outcome.PARSED and result.drafts:
            origin = f"feed:{state.id}"
            drafts = [dataclasses.replace(d, feed_id=state.id) for d in result.drafts]
            if state.last_fetch_at is None:
                keep = state.backfill if backfill is None else backfill
                drafts, seen = self._first_run(drafts, keep)
                report.seen_on_first_run += await self._db.articles.mark_seen(origin, seen)
            batch_drafts = OriginDrafts(origin, drafts)
        failed = result.last_error is not None
        updates["failing_since"] = (state.failing_since or result.fetched_at) if failed else None
        return dataclasses.replace(state, **updates), batch_drafts

    @staticmethod
    def _first_run(drafts: list[ArticleDraft], keep: int) -> tuple[list[ArticleDraft], list[str]]:
        """A new feed's existing items are marked seen, except the latest ``keep``."""
        newest = sorted(drafts, key=lambda d: d.published_at, reverse=True)
        kept = newest[:keep]
        return kept, [d.key for d in newest[keep:]]

    async def _enriched(self, batches: Sequence[OriginDrafts]) -> list[OriginDrafts]:
        """The pipeline's ``prepare``: only items not stored yet are enriched (a teaser's
        page is fetched once), and what the store holds of the others goes along."""
        # Only these items' keys: a long-lived feed has thousands of older ones.
        found = await batch.known_items_many(
            self._db.engine, {b.origin: [d.key for d in b.drafts] for b in batches}
        )
        fresh = [d for b in batches for d in b.drafts if (b.origin, d.key) not in found]
        enriched = {
            id(d): e for d, e in zip(fresh, await self.extractor.enrich_all(fresh), strict=True)
        }
        known: dict[str, dict[str, batch.KnownItem]] = {b.origin: {} for b in batches}
        for (origin, key), item in found.items():
            known[origin][key] = item
        return [
            OriginDrafts(
                b.origin,
                [enriched.get(id(d), d) for d in b.drafts],
                {d.key: content_hash(d) for d in b.drafts},
                known[b.origin],
            )
            for b in batches
        ]
