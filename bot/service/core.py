"""The composition root: the one place that wires settings, store, pipeline and commands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot import metrics
from bot.config import Settings
from bot.core import logcontext
from bot.core.briefing import BriefingOptions, BriefingService
from bot.core.commands import CommandRouter, ScheduleHook
from bot.core.models import Briefing, ChannelRef, ChannelSettings, IncomingCommand, Reply
from bot.core.mutes import of as mutes_of
from bot.errors import CommandError, ConfigError
from bot.ingest.feeds import FeedIngest
from bot.ingest.pipeline import IngestStats, Pipeline
from bot.ingest.subscriptions import Subscriptions
from bot.service.status import channel_status
from bot.service.stories import StoryArchiveService
from bot.sources.fetch import FetchResult
from bot.sources.seeds import SeedResult, read_folder
from bot.sources.ssrf import Resolver
from bot.store.db import Database, open_database
from bot.text.grouping import StoryGrouper
from bot.text.summarize import ExtractiveSummarizer

if TYPE_CHECKING:
    from bot.text.llm import LLMSummarizer

log = logging.getLogger(__name__)

SEEDS_ORIGIN = "seeds"


@dataclass
class SeedReport:
    stats: IngestStats
    skipped: list[SeedResult] = field(default_factory=list)
    files: int = 0

    def __str__(self) -> str:
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return f"seeds: {self.files} files, {self.stats}{skipped}"


class MeasuredRouter(CommandRouter):
    """Times every command for ``/metrics``; the core's router stays metrics-free."""

    async def dispatch(self, cmd: IncomingCommand) -> Reply:
        started = time.perf_counter()
        try:
            with logcontext.bind(platform=cmd.platform, channel=cmd.channel):
                return await super().dispatch(cmd)
        finally:
            elapsed = time.perf_counter() - started
            metrics.COMMAND_SECONDS.labels(platform=cmd.platform).observe(elapsed)


@dataclass
class Core:
    """Everything a chat adapter, the scheduler or the CLI needs, already wired."""

    settings: Settings
    db: Database
    pipeline: Pipeline
    briefings: BriefingService
    subscriptions: Subscriptions
    router: CommandRouter
    executor: ThreadPoolExecutor
    archive: StoryArchiveService
    schedule_hooks: list[ScheduleHook] = field(default_factory=list)
    resolver: Resolver | None = None
    llm: LLMSummarizer | None = None
    _feed_ingest: FeedIngest | None = None

    def feed_ingest(self, parse_executor: Executor | None = None) -> FeedIngest:
        """The process's feed poller, created on first use (it owns an HTTP session).

        ``parse_executor`` (a process pool) is attached even when the poller exists
        already, e.g. because adding a feed probed it first.
        """
        if self._feed_ingest is not None:
            if parse_executor is not None:
                self._feed_ingest.poller.executor = parse_executor
        else:
            self._feed_ingest = FeedIngest(
                self.db,
                self.pipeline,
                self.settings,
                parse_executor=parse_executor,
                resolver=self.resolver,
            )
        return self._feed_ingest

    async def ingest_seeds(self) -> SeedReport:
        """Read the seed folder (in a thread: file I/O and HTML extraction) and store it."""
        folder = self.settings.seeds_path
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self.executor, read_folder, folder)
        drafts = [r.draft for r in results if r.draft is not None]
        stats = await self.pipeline.ingest(SEEDS_ORIGIN, drafts)
        report = SeedReport(stats, [r for r in results if r.draft is None], len(results))
        log.info("%s", report)
        return report

    async def add_configured_feeds(self) -> int:
        """Make sure every ``[sources] feeds`` URL is stored; returns how many were new.

        A URL the SSRF guard refuses is a configuration error; one that is merely
        unreachable now is added with its error recorded, and polled with backoff.
        """
        added = 0
        for url in self.settings.sources.feeds:
            if await self.db.feeds.by_url(url.strip()) is not None:
                continue
            try:
                created = (await self.subscriptions.add_feed(url, strict=False)).created
            except CommandError as exc:
                raise ConfigError(f"config: [sources] feeds: {exc}") from None
            added += created
        return added

    async def prune(self) -> int:
        """Drop articles past ``[sources] retention_days``; keys stay as tombstones."""
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.sources.retention_days)
        removed = await self.db.articles.prune(cutoff)
        if removed:
            log.info("pruned %d articles published before %s", removed, cutoff.date())
        return removed

    async def probe_feed(self, url: str) -> FetchResult:
        """Fetch a URL once through the guarded fetcher (raises ``FetchError``)."""
        return await self.feed_ingest().fetcher.fetch(url)

    async def briefing_for(
        self,
        ref: ChannelRef,
        *,
        since: datetime | None = None,
        exclude: set[int] | None = None,
        remember: bool = False,
    ) -> Briefing:
        """The digest a channel gets now (its time zone, topics, size, mutes, and the
        mention an admin opted into). ``remember`` (a digest about to be posted, not a
        preview) makes it the briefing `/briefing story <n>` counts from. A personal digest
        takes the feeds, topics, size and mutes of the channel it follows, as they are now,
        in the user's time zone."""
        settings = await self.db.channels.channel(ref)
        source = settings
        if settings.origin is not None:
            source = await self.db.channels.channel(settings.origin)
        feed_ids = await self.db.channels.feed_ids(source.ref)
        briefing = await self.briefings.compose(
            timezone=settings.timezone,
            since=since,
            channel_topics=source.topics,
            max_stories=source.max_stories,
            exclude_story_ids=exclude or set(),
            feed_ids=feed_ids or None,
            mutes=mutes_of(source),
        )
        if remember and briefing.items:
            await self.archive.remember(ref, [i.story_id for i in briefing.items if i.story_id])
        return replace(briefing, mention=settings.mention, threaded=settings.threads)

    async def close(self) -> None:
        if self._feed_ingest is not None:
            await self._feed_ingest.close()
        if self.llm is not None:
            await self.llm.aclose()
        await self.db.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


async def open_core(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    resolver: Resolver | None = None,
) -> Core:
    """Open the database (migrating it) and wire the core around it."""
    db = await open_database(settings.database_url)
    db.channels.default_timezone = settings.bot.timezone
    b = settings.briefing
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="briefbot-cpu")
    summarizer = ExtractiveSummarizer(max_sentences=b.summary_sentences, max_chars=b.summary_chars)
    llm = None
    if settings.llm.enabled:
        from bot.text.llm import LLMOptions, LLMSummarizer

        llm = LLMSummarizer(
            LLMOptions(
                base_url=settings.llm.base_url,
                model=settings.llm.model,
                timeout_s=settings.llm.timeout_s,
                max_input_tokens=settings.llm.max_input_tokens,
            ),
            summarizer,
        )
    pipeline = Pipeline(
        db,
        summarizer,
        lambda: StoryGrouper(window_hours=b.story_window_hours),
        story_window_hours=b.story_window_hours,
        summary_sentences=b.summary_sentences,
        summary_chars=b.summary_chars,
        executor=executor,
        llm=llm,
    )
    briefings = BriefingService(
        db.articles,
        BriefingOptions(
            max_stories=b.max_stories,
            window=timedelta(hours=b.window_hours),
            half_life_hours=b.half_life_hours,
            source_weights=b.source_weights,
        ),
        clock=clock or (lambda: datetime.now(UTC)),
    )
    subscriptions = Subscriptions(
        db,
        allow_private_networks=settings.sources.allow_private_networks,
        resolver=resolver,
        interval_s=int(settings.sources.poll_interval_minutes * 60),
        backfill=settings.sources.backfill,
        trusted_hosts=frozenset(settings.sources.trusted_hosts),
    )
    hooks: list[ScheduleHook] = []  # the scheduler adds itself when `run` starts it

    async def on_schedule_change(channel: ChannelSettings) -> None:
        for hook in hooks:
            await hook(channel)

    archive = StoryArchiveService(db, executor)
    router = MeasuredRouter(
        briefings,
        db.channels,
        subscriptions,
        default_window=timedelta(hours=b.window_hours),
        on_schedule_change=on_schedule_change,
        status=channel_status(db),
        archive=archive,
    )
    core = Core(
        settings,
        db,
        pipeline,
        briefings,
        subscriptions,
        router,
        executor,
        archive,
        schedule_hooks=hooks,
        resolver=resolver,
        llm=llm,
    )
    subscriptions.probe = core.probe_feed
    return core
