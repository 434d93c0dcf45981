"""Ingest: drafts in, stored articles with summaries, grouped into stories, out.

Summaries and story assignment happen here, at ingest, so ``/briefing`` is a query and
a render, never a fetch or a summarisation. Blocking CPU work (summarising, grouping)
runs in an executor, one call per batch (the polls of many feeds make one batch); the
store is written in two transactions per batch (articles, then stories). One lock keeps
the grouper's state consistent with the database; if a story write fails, the grouper
is rebuilt from the database and the articles left without a story are grouped on the
next run.

With several processes on one database, only one of them groups: ``owns_grouping``
(the scheduler leader) says whether this one does. The others store their articles
without a story, and the owner groups them in ``group_orphans``, so every article is
matched against one grouper that has seen every story — the same stories one process
would make. A process that becomes the owner rebuilds its grouper from the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from bot import metrics
from bot.core.models import Article, ArticleDraft
from bot.core.ports import SaveOutcome, Summarizer
from bot.errors import SummarizeError
from bot.store import batch
from bot.store.db import Database
from bot.text.grouping import StoryGrouper
from bot.text.sentences import split_sentences
from bot.text.story_summary import summarize_story

log = logging.getLogger(__name__)
T = TypeVar("T")

# Term weights for grouping come from the stored corpus: on start-up the grouper counts
# the stored articles of this many days (at most _DF_ARTICLES, the newest) besides the
# open stories it resumes, then keeps counting every article it groups.
_DF_DAYS = 14
_DF_ARTICLES = 20_000


def content_hash(draft: ArticleDraft) -> str:
    return hashlib.sha256(f"{draft.title}\n{draft.text}".encode()).hexdigest()


@dataclass
class IngestStats:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Origins that ``Pipeline.ingest_many`` could not store, with the error's class
    #: name; each was logged with its traceback.
    failed: dict[str, str] = field(default_factory=dict)

    def add(self, other: IngestStats) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed.update(other.failed)

    def __str__(self) -> str:
        failed = f", {len(self.failed)} origins not stored" if self.failed else ""
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged{failed}"


@dataclass(frozen=True, slots=True)
class OriginDrafts:
    """One origin's drafts for ``Pipeline.ingest_many`` (see ``Pipeline.ingest``)."""

    origin: str
    drafts: Sequence[ArticleDraft]
    hashes: Mapping[str, str] | None = None
    known: Mapping[str, batch.KnownItem] | None = None


# Turns origins' drafts into what is stored, before the pipeline's lock is taken (the
# feed cycle fetches teasers' full text); it may raise, like storing them.
Prepare = Callable[[Sequence[OriginDrafts]], Awaitable[Sequence[OriginDrafts]]]


class AsyncSummarizer(Protocol):
    """An abstractive summariser (``bot.text.llm.LLMSummarizer``) that never raises."""

    async def summarize_async(self, title: str, text: str) -> str: ...


def _lead(text: str, sentences: int = 3) -> str:
    """Fallback summary when the summariser fails: the first sentences."""
    return " ".join(split_sentences(text)[:sentences]) or text[:300]


def _grouping_text(draft: ArticleDraft, summary: str) -> str:
    return f"{draft.standfirst or ''} {summary or draft.text[:600]}".strip()


class Pipeline:
    def __init__(
        self,
        db: Database,
        summarizer: Summarizer,
        grouper_factory: Callable[[], StoryGrouper],
        *,
        story_window_hours: float = 48.0,
        summary_sentences: int = 3,
        summary_chars: int = 600,
        executor: Executor | None = None,
        llm: AsyncSummarizer | None = None,
        owns_grouping: Callable[[], bool] | None = None,
        inline_grouping: bool = True,
    ) -> None:
        self._db = db
        self.owns_grouping: Callable[[], bool] = owns_grouping or (lambda: True)
        #: False: even the owner leaves new articles to ``group_orphans`` (a stage
        #: that groups a settled cycle at once, see bot/service/grouping.py).
        self.inline_grouping = inline_grouping
        self._owned = True
        self._llm = llm
        self._summarizer = summarizer
        self._new_grouper = grouper_factory
        self._grouper = grouper_factory()
        self._window = timedelta(hours=story_window_hours)
        self._summary_sentences = summary_sentences
        self._summary_chars = summary_chars
        self._executor = executor
        self._lock = asyncio.Lock()
        self._loaded = False
        # Grouper keys → story ids. Stories resumed from the database keep their id as key.
        self._story_ids: dict[int, int] = {}

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def window(self) -> timedelta:
        """How far back an article may still join a story."""
        return self._window

    def _owner_now(self) -> bool:
        """Whether this process groups now; on gaining the role, the grouper is rebuilt
        (it missed what the previous owner grouped)."""
        owner = self.owns_grouping()
        if owner and not self._owned:
            self._loaded = False
        self._owned = owner
        return owner

    async def group_orphans(self) -> int:
        """The owner's grouping stage: group the stored articles that have no story yet
        (stored by other processes, or left by a failed run). Returns how many."""
        async with self._lock:
            if not self._owner_now():
                return 0
            if not self._loaded:
                return await self._load_grouper()
            orphans = await self._db.articles.without_story(datetime.now(UTC) - self._window)
            await self._group([(a.id, a.draft, a.summary) for a in orphans])
            return len(orphans)

    async def _load_grouper(self, *, rebuilt: bool = False) -> int:
        """Resume grouping after a restart: recent stories become candidates again, and
        articles a failed run left without a story are grouped now (``rebuilt``: this
        is the retry of a failed story write, see ``_group``)."""
        if self._loaded:
            return 0
        self._grouper = self._new_grouper()
        self._story_ids = {}
        now = datetime.now(UTC)
        since = now - self._window
        rows = await self._db.articles.grouping_rows(since)
        open_ids = {row.story_id for row in rows}
        older = await self._db.articles.grouping_rows(now - timedelta(days=_DF_DAYS))
        corpus = [r for r in older if r.story_id not in open_ids]
        corpus.sort(key=lambda r: r.published_at)
        for row in corpus[-_DF_ARTICLES:]:
            self._grouper.observe(row.title, row.text)
        for row in rows:
            self._grouper.load(
                row.story_id, row.title, row.text, row.published_at, source=row.source
            )
            self._story_ids[row.story_id] = row.story_id
        self._loaded = True
        log.debug("grouper resumed with %d stories", len(self._story_ids))
        orphans = await self._db.articles.without_story(since)
        if orphans:
            log.info("grouping %d articles left without a story", len(orphans))
            await self._group([(a.id, a.draft, a.summary) for a in orphans], rebuilt=rebuilt)
        return len(orphans)

    # --- summaries -------------------------------------------------------------------

    def _summarize(self, title: str, text: str) -> str:
        try:
            summary = self._summarizer.summarize(title, text)
        except SummarizeError as exc:
            log.warning("summarize: %s; using the lead", exc)
            summary = ""
        except Exception:
            log.exception("summarize: unexpected failure; using the lead")
            summary = ""
        return summary or _lead(text, self._summary_sentences)[: self._summary_chars]

    def _summarize_all(self, items: Sequence[tuple[str, str]]) -> list[str]:
        # One call for the batch: the extractive summariser scores many articles in
        # the same numpy calls. On any failure each article is tried alone, so one
        # bad article costs only its own summary.
        try:
            summaries = self._summarizer.summarize_many(items)
        except Exception:
            log.warning("summarize: batch of %d failed; one by one", len(items))
            return [self._summarize(title, text) for title, text in items]
        return [
            summary or _lead(text, self._summary_sentences)[: self._summary_chars]
            for summary, (_, text) in zip(summaries, items, strict=True)
        ]

    async def _summaries(self, drafts: Sequence[ArticleDraft]) -> list[str]:
        if not drafts:
            return []
        if self._llm is not None:  # it falls back to the extractive summariser itself
            llm = self._llm
            return list(
                await asyncio.gather(*(llm.summarize_async(d.title, d.text) for d in drafts))
            )
        return await self._run(self._summarize_all, [(d.title, d.text) for d in drafts])

    # --- ingest ----------------------------------------------------------------------

    async def ingest(
        self,
        origin: str,
        drafts: Sequence[ArticleDraft],
        hashes: Mapping[str, str] | None = None,
        known: Mapping[str, batch.KnownItem] | None = None,
    ) -> IngestStats:
        """Store ``drafts`` from one origin (``"seeds"``, ``"feed:12"``); idempotent.

        ``hashes`` (by key) overrides the content hash: a feed item enriched with the
        page's full text is hashed as the feed sent it, so the next poll of the same
        teaser is "unchanged" and not an edit. ``known`` is what the store holds for these
        keys, when the caller has just looked (a feed is polled by one worker at a time).

        Raises what storing them raised; nothing of them is stored then. A race with
        another worker over the same keys is not an error: that worker stored them.
        """
        stats = IngestStats()
        await self._store([OriginDrafts(origin, drafts, hashes, known)], None, stats)
        return stats

    async def ingest_many(
        self, batches: Sequence[OriginDrafts], prepare: Prepare | None = None
    ) -> IngestStats:
        """``ingest`` for several origins at once (a batch of feed polls): one lookup,
        one summarising call, one transaction for the articles and one for the stories.

        Never raises for a store failure, and one costs only its own origin: when the
        batch fails together (a race with another worker over some keys, one origin's
        bad data, a database error), each origin is stored alone. An origin that fails
        alone is logged with its traceback and named in the result's ``failed``: its
        caller keeps its old state and reads its items again later (any of them stored
        already is known by then). ``prepare`` runs before each attempt: on the batch,
        then on each origin alone.
        """
        stats = IngestStats()
        if not batches:
            return stats
        try:
            await self._store(batches, prepare, stats)
            return stats
        except Exception as exc:
            if len(batches) == 1:
                self._failed(batches[0].origin, exc, stats)
                return stats
            log.warning(
                "ingest: %d origins failed to store together (%s: %s); storing them one by one",
                len(batches),
                exc.__class__.__name__,
                exc,
            )
        for one in batches:
            try:
                await self._store([one], prepare, stats)
            except Exception as exc:  # the other origins go on
                self._failed(one.origin, exc, stats)
        return stats

    @staticmethod
    def _failed(origin: str, exc: Exception, stats: IngestStats) -> None:
        log.error("ingest: origin=%s failed to store", origin, exc_info=exc)
        stats.failed[origin] = exc.__class__.__name__

    async def _store(
        self, batches: Sequence[OriginDrafts], prepare: Prepare | None, total: IngestStats
    ) -> None:
        """One attempt at storing ``batches`` together; raises what it met."""
        if prepare is not None:
            batches = await prepare(batches)
        stats = IngestStats()
        async with self._lock:
            owner = self._owner_now() and self.inline_grouping
            if owner:
                await self._load_grouper()
            await self._ingest_locked(batches, owner, stats)
        for result in ("new", "updated", "unchanged"):
            metrics.ITEMS_INGESTED.labels(result=result).inc(getattr(stats, result))
        total.add(stats)

    async def _ingest_locked(
        self, batches: Sequence[OriginDrafts], owner: bool, total: IngestStats
    ) -> None:
        stats = IngestStats()
        missing = {b.origin: [d.key for d in b.drafts] for b in batches if b.known is None}
        looked = await batch.known_items_many(self._db.engine, missing) if missing else {}
        pending: list[tuple[str, ArticleDraft, str, batch.KnownItem | None]] = []
        for b in batches:
            unique = list({d.key: d for d in reversed(b.drafts)}.values())[::-1]  # first wins
            stats.unchanged += len(b.drafts) - len(unique)
            for draft in unique:
                digest = (b.hashes or {}).get(draft.key) or content_hash(draft)
                known = b.known.get(draft.key) if b.known is not None else None
                item = known if b.known is not None else looked.get((b.origin, draft.key))
                if item is not None and (item.article_id is None or item.same(draft, digest)):
                    stats.unchanged += 1  # a repeat, or a tombstone: never posted again
                    continue
                pending.append((b.origin, draft, digest, item))
        # Summaries only for what becomes an article: a new key whose URL or content is
        # stored already (or comes earlier in this batch) is only linked to it (the same
        # story from another feed), and an edit of the date alone keeps the stored summary.
        fresh = [(d, digest) for _, d, digest, item in pending if item is None]
        found = iter(await batch.linked_drafts(self._db.engine, fresh) if fresh else [])
        twins = [next(found) if item is None else None for _, _, _, item in pending]
        needs = [
            i
            for i, ((_, d, digest, item), twin) in enumerate(zip(pending, twins, strict=True))
            if (item is None and twin is None) or (item is not None and item.content_hash != digest)
        ]
        texts = await self._summaries([pending[i][1] for i in needs])
        summaries: dict[int, str] = dict(zip(needs, texts, strict=True))
        writes = [
            batch.Write(d, digest, summaries.get(i), item, origin, twin)
            for i, ((origin, d, digest, item), twin) in enumerate(zip(pending, twins, strict=True))
        ]
        try:
            written = await batch.write_articles(self._db.engine, writes)
        except IntegrityError:
            if len(batches) > 1:
                raise  # ingest_many stores the origins one by one: the race costs its own
            # Another worker stored some of these keys meanwhile; the next poll sees
            # them as known. Nothing was written and the grouper is untouched.
            log.warning(
                "ingest: origin=%s raced another worker; retrying next cycle", batches[0].origin
            )
            total.add(stats)
            return
        stats.unchanged += len(writes) - sum(
            w.outcome is not SaveOutcome.UNCHANGED for w in written
        )  # repeats, and new keys linked to an article stored already
        new = [w for w in written if w.outcome is SaveOutcome.NEW]
        if any(w.late for w in new):
            new = await self._late_summaries(new)
        stats.new += len(new)
        updated = [w for w in written if w.outcome is SaveOutcome.UPDATED]
        stats.updated += len(updated)
        total.add(stats)
        if owner:  # else the owner's grouping stage picks them up
            await self._group([(w.article_id, w.draft, w.summary) for w in new])
        for story_id in {w.story_id for w in updated if w.story_id is not None}:
            await self._refresh_story(story_id)

    async def _late_summaries(self, new: list[batch.Written]) -> list[batch.Written]:
        """The article a draft was to be linked to went away before the write (pruned,
        or another worker's write was not committed): summarise the draft now."""
        late = [w for w in new if w.late]
        texts = await self._summaries([w.draft for w in late])
        await batch.set_summaries(
            self._db.engine, {w.article_id: t for w, t in zip(late, texts, strict=True)}
        )
        done = {id(w): replace(w, summary=t, late=False) for w, t in zip(late, texts, strict=True)}
        return [done.get(id(w), w) for w in new]

    def _group_all(self, items: Sequence[tuple[int, ArticleDraft, str]]) -> list[int]:
        keys = [
            self._grouper.add(a, d.title, _grouping_text(d, s), d.published_at, d.source)
            for a, d, s in items
        ]
        self._grouper.merge()  # headline-only stories that met; later joins go to one
        return [self._grouper.resolve(key) for key in keys]

    async def _group(
        self, items: Sequence[tuple[int, ArticleDraft, str]], *, rebuilt: bool = False
    ) -> None:
        """Join the best recent story or start one; the grouper's keys map to story ids.

        A story this grouper still holds may be gone from the database: another process
        owned the grouping for a while (a leader that lost its lease and won it back
        between two of its own checks) and merged or pruned it. The write then fails as
        a whole; the grouper is rebuilt from the database, which groups these articles,
        stored without a story, again (once: a second failure raises).
        """
        if not items:
            return
        keys = await self._run(self._group_all, items)
        joins = [
            batch.StoryJoin(a, self._story_ids.get(key), key, d.title, s)
            for (a, d, s), key in zip(items, keys, strict=True)
        ]
        try:
            created, members = await batch.write_stories(self._db.engine, joins)
        except Exception as exc:
            self._loaded = False  # rebuild the grouper from what the database holds
            if rebuilt or not isinstance(exc, IntegrityError):
                raise
            log.warning("grouping: a story is gone from the database; rebuilding the grouper")
            await self._load_grouper(rebuilt=True)
            return
        self._story_ids.update(created)
        await self._story_texts(members)

    def _texts(self, members: Mapping[int, Sequence[Article]]) -> dict[int, tuple[str, str]]:
        texts = {}
        for story_id, articles in members.items():
            if len(articles) < 2:
                continue
            try:
                texts[story_id] = summarize_story(
                    [(a.source, a.title, a.summary) for a in articles],
                    self._summary_sentences,
                    self._summary_chars,
                )
            except Exception:  # a story keeps its old text rather than losing the article
                log.exception("story summary failed for story_id=%s", story_id)
        return texts

    async def _story_texts(self, members: Mapping[int, Sequence[Article]]) -> None:
        if members:
            await batch.set_story_texts(self._db.engine, await self._run(self._texts, members))

    async def _refresh_story(self, story_id: int) -> None:
        """After an edit: the story's headline and summary follow its members (the
        same capped set as when a new article joins, see ``batch.write_stories``)."""
        members = await batch.summary_members(self._db.engine, story_id)
        if len(members) == 1:
            await batch.set_story_texts(
                self._db.engine, {story_id: (members[0].title, members[0].summary)}
            )
        else:
            await self._story_texts({story_id: members})
