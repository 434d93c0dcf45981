"""Batched ingest writes: one lookup and one transaction per batch of feed polls, not
per item or per feed.

A poll of a busy feed brings dozens of items, a first cycle over a thousand feeds tens
of thousands; a round trip per item and per statement made the store, not parsing, the
bottleneck, and then a few statements per feed (each a thread round trip on SQLite).
Every function here takes the drafts of several origins at once. Semantics are those of
``ArticleRepo.save``/``new_story``/``join_story``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.models import Article, ArticleDraft
from bot.core.ports import SaveOutcome
from bot.store.schema import articles, item_keys, stories

CHUNK = 500

# What a briefing needs of an article (no body text), and the model built from it.
ARTICLE_COLUMNS = (
    articles.c.id,
    articles.c.source,
    articles.c.title,
    articles.c.summary,
    articles.c.published_at,
    articles.c.canonical_url,
    articles.c.story_id,
)


def article_from_row(row: Any) -> Article:
    return Article(
        id=row.id,
        source=row.source,
        title=row.title,
        summary=row.summary,
        published_at=row.published_at,
        url=row.canonical_url,
        story_id=row.story_id,
    )


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the store holds for a key; ``article_id`` None is a tombstone."""

    article_id: int | None
    content_hash: str | None
    title: str | None
    published_at: datetime | None
    story_id: int | None

    def same(self, draft: ArticleDraft, digest: str) -> bool:
        return (
            self.content_hash == digest
            and self.title == draft.title
            and self.published_at == draft.published_at
        )


@dataclass(frozen=True, slots=True)
class Write:
    """One draft of ``origin`` to store: ``summary`` None keeps the stored summary (or,
    for a new key, expects a link). ``twin`` is what ``linked_drafts`` found for a new
    key: a stored article's id, ``EARLIER`` (a draft before it in the batch), or None."""

    draft: ArticleDraft
    digest: str
    summary: str | None
    known: KnownItem | None
    origin: str
    twin: int | None = None


EARLIER = -1  # ``Write.twin``: the same article as a new draft earlier in the batch


@dataclass(frozen=True, slots=True)
class Written:
    draft: ArticleDraft
    article_id: int
    outcome: SaveOutcome
    story_id: int | None
    summary: str
    late: bool = False  # stored as a new article, though a link was expected: no summary


T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def known_items(
    engine: AsyncEngine, origin: str, keys: Sequence[str]
) -> dict[str, KnownItem]:
    found = await known_items_many(engine, {origin: keys})
    return {key: item for (_, key), item in found.items()}


async def known_items_many(
    engine: AsyncEngine, keys: Mapping[str, Sequence[str]]
) -> dict[tuple[str, str], KnownItem]:
    """What the store holds for these keys of these origins, by (origin, key): one query
    per chunk for all origins (an OR of one index range per origin; a row-value IN made
    SQLite scan the table)."""
    found: dict[tuple[str, str], KnownItem] = {}
    pairs = [(o, k) for o, ks in keys.items() for k in dict.fromkeys(ks)]
    async with engine.connect() as conn:
        for chunk in _chunks(pairs):
            by_origin: dict[str, list[str]] = defaultdict(list)
            for origin, key in chunk:
                by_origin[origin].append(key)
            rows = await conn.execute(
                select(
                    item_keys.c.origin,
                    item_keys.c.item_key,
                    item_keys.c.article_id,
                    articles.c.content_hash,
                    articles.c.title,
                    articles.c.published_at,
                    articles.c.story_id,
                )
                .select_from(item_keys.outerjoin(articles, item_keys.c.article_id == articles.c.id))
                .where(
                    or_(
                        *(
                            and_(item_keys.c.origin == o, item_keys.c.item_key.in_(ks))
                            for o, ks in by_origin.items()
                        )
                    )
                )
            )
            for r in rows:
                found[(r.origin, r.item_key)] = KnownItem(
                    r.article_id, r.content_hash, r.title, r.published_at, r.story_id
                )
    return found


@dataclass
class _Twins:
    """Stored articles as (id, story id), by canonical URL, content hash and id."""

    by_url: dict[str, tuple[int, int | None]]
    by_hash: dict[str, tuple[int, int | None]]
    by_id: dict[int, tuple[int, int | None]]


async def _twins(
    conn: AsyncConnection,
    urls: Sequence[str],
    hashes: Sequence[str],
    ids: Sequence[int] = (),
    found: _Twins | None = None,
) -> _Twins:
    """Stored articles with one of these canonical URLs, content hashes or ids (one
    query per chunk for all three: an index each, OR-ed), added to ``found``."""
    found = found or _Twins({}, {}, {})
    columns = (
        articles.c.id,
        articles.c.story_id,
        articles.c.canonical_url,
        articles.c.content_hash,
    )
    lists: list[tuple[Any, list[Sequence[Any]]]] = [
        (articles.c.canonical_url, list(_chunks(list(dict.fromkeys(urls))))),
        (articles.c.content_hash, list(_chunks(list(dict.fromkeys(hashes))))),
        (articles.c.id, list(_chunks(list(dict.fromkeys(ids))))),
    ]
    for i in range(max(len(chunks) for _, chunks in lists)):
        terms: list[ColumnElement[bool]] = [
            column.in_(chunks[i]) for column, chunks in lists if i < len(chunks)
        ]
        for r in await conn.execute(select(*columns).where(or_(*terms))):
            twin = (r.id, r.story_id)
            if r.canonical_url:
                found.by_url.setdefault(r.canonical_url, twin)
            found.by_hash.setdefault(r.content_hash, twin)
            found.by_id[r.id] = twin
    return found


async def _insert_ids(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, object]]
) -> list[int]:
    """Insert ``rows`` in as few statements as the driver allows; their ids, in order.

    SQLAlchemy keeps RETURNING in parameter order on SQLite only by inserting row by
    row (a statement per new article and story was a tenth of a first poll cycle).
    SQLite gives each row of an INSERT the rowid one above the table's largest, in the
    order of its VALUES, so there the sorted ids are in row order.
    """
    if conn.dialect.name == "sqlite":
        result = await conn.execute(insert(table).returning(table.c.id), rows)
        return sorted(int(i) for i in result.scalars())
    result = await conn.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return [int(i) for i in result.scalars()]


async def linked_drafts(
    engine: AsyncEngine, fresh: Sequence[tuple[ArticleDraft, str]]
) -> list[int | None]:
    """For each new ``(draft, content hash)``: the stored article ``write_articles`` will
    link it to (same canonical URL or content), ``EARLIER`` when a draft before it in the
    list is the same article, else None. Linked drafts need no summary. ``write_articles``
    checks in its transaction that these articles are still there, and looks again only
    for the others (``Write.twin``)."""
    async with engine.connect() as conn:
        found = await _twins(
            conn, [d.url for d, _ in fresh if d.url], [digest for _, digest in fresh]
        )
    twins: list[int | None] = []
    urls: set[str] = set()
    hashes: set[str] = set()
    for draft, digest in fresh:
        url = draft.url
        stored = (found.by_url.get(url) if url else None) or found.by_hash.get(digest)
        if stored is not None:
            twins.append(stored[0])
        elif (url and url in urls) or digest in hashes:
            twins.append(EARLIER)
        else:
            twins.append(None)
            if url:
                urls.add(url)
            hashes.add(digest)
    return twins


async def set_summaries(engine: AsyncEngine, summaries: dict[int, str]) -> None:
    if not summaries:
        return
    async with engine.begin() as conn:
        await conn.execute(
            update(articles)
            .where(articles.c.id == bindparam("a_id"))
            .values(summary=bindparam("s")),
            [{"a_id": k, "s": s} for k, s in summaries.items()],
        )


async def write_articles(engine: AsyncEngine, writes: Sequence[Write]) -> list[Written]:
    """Insert, update or link every draft in one transaction (all or nothing).

    Returns what was written: NEW articles, UPDATED ones, and UNCHANGED for a new key
    linked to an article already stored (same canonical URL or content: stored once,
    reachable from both feeds). Repeats and tombstones are skipped, not returned.
    A new key's twin found before (``Write.twin``) is only checked to be still stored;
    the others are looked up here, in case another worker stored them meanwhile.
    """
    now = datetime.now(UTC)
    out: list[Written] = []
    fresh = [w for w in writes if w.known is None]
    look = [w for w in fresh if w.twin is None or w.twin == EARLIER]
    async with engine.begin() as conn:
        twins = await _twins(
            conn,
            [w.draft.url for w in look if w.draft.url],
            [w.digest for w in look],
            [w.twin for w in fresh if w.twin is not None and w.twin != EARLIER],
        )
        gone = [w for w in fresh if w.twin not in (None, EARLIER) and w.twin not in twins.by_id]
        if gone:  # pruned meanwhile: look for another twin, as for any new key
            urls = [w.draft.url for w in gone if w.draft.url]
            await _twins(conn, urls, [w.digest for w in gone], (), twins)
        by_url, by_hash = twins.by_url, twins.by_hash
        rows: list[dict[str, object]] = []
        fresh_writes: list[Write] = []
        links: list[tuple[str, str, int]] = []  # (origin, key, article id or -1 - row)
        pending_url: dict[str, int] = {}
        pending_hash: dict[str, int] = {}
        for w in writes:
            d = w.draft
            values: dict[str, object] = {
                "source": d.source,
                "canonical_url": d.url,
                "title": d.title,
                "standfirst": d.standfirst,
                "author": d.author,
                "language": d.language,
                "published_at": d.published_at,
                "text": d.text,
                "content_hash": w.digest,
            }
            if w.summary is not None:
                values["summary"] = w.summary
            if w.known is not None:
                if w.known.article_id is None or w.known.same(d, w.digest):
                    continue  # tombstone or unchanged: nothing to write
                await conn.execute(
                    update(articles).where(articles.c.id == w.known.article_id).values(**values)
                )
                out.append(
                    Written(d, w.known.article_id, SaveOutcome.UPDATED, w.known.story_id, "")
                )
                continue
            twin = twins.by_id.get(w.twin) if w.twin is not None else None
            twin = twin or (by_url.get(d.url) if d.url else None) or by_hash.get(w.digest)
            if twin is not None:
                links.append((w.origin, d.key, twin[0]))
                out.append(Written(d, twin[0], SaveOutcome.UNCHANGED, twin[1], ""))
                continue
            # The same article twice in this batch (two keys, one URL or content).
            row = (pending_url.get(d.url) if d.url else None) or pending_hash.get(w.digest)
            if row is not None:
                links.append((w.origin, d.key, -1 - row))
                continue
            row = len(rows)
            rows.append(
                {
                    **values,
                    "summary": w.summary or "",
                    "feed_id": d.feed_id,
                    "origin": w.origin,
                    "fetched_at": now,
                }
            )
            if d.url:
                pending_url[d.url] = row
            pending_hash[w.digest] = row
            fresh_writes.append(w)
        ids: list[int] = []
        if rows:
            ids = await _insert_ids(conn, articles, rows)
        for w, article_id in zip(fresh_writes, ids, strict=True):
            links.append((w.origin, w.draft.key, article_id))
            late = w.summary is None
            out.append(Written(w.draft, article_id, SaveOutcome.NEW, None, w.summary or "", late))
        keys = [
            {
                "origin": origin,
                "first_seen": now,
                "item_key": key,
                "article_id": ids[-1 - ref] if ref < 0 else ref,
            }
            for origin, key, ref in links
        ]
        if keys:
            await conn.execute(insert(item_keys), keys)
    return out


@dataclass(frozen=True, slots=True)
class StoryJoin:
    """Put an article in ``story_id``, or, when None, in the story the grouper calls
    ``key`` (created by the first article of the batch that names it)."""

    article_id: int
    story_id: int | None
    key: int
    title: str
    summary: str


async def write_stories(
    engine: AsyncEngine, joins: Sequence[StoryJoin]
) -> tuple[dict[int, int], dict[int, list[Article]]]:
    """Attach articles to stories in one transaction. Returns the story ids created (by
    grouper key) and the members of every story that gained a second or later article."""
    created: dict[int, int] = {}
    touched: set[int] = set()
    touched_new: set[int] = set()
    async with engine.begin() as conn:
        published = {
            r.id: r.published_at
            for chunk in _chunks([j.article_id for j in joins])
            for r in await conn.execute(
                select(articles.c.id, articles.c.published_at).where(articles.c.id.in_(chunk))
            )
        }
        new_rows: dict[int, dict[str, object]] = {}  # grouper key → story row
        for join in joins:
            if join.story_id is not None:
                touched.add(join.story_id)
            elif join.key in new_rows:  # a story this batch creates gains a second article
                touched_new.add(join.key)
            else:
                when = published[join.article_id]
                new_rows[join.key] = {
                    "title": join.title,
                    "summary": join.summary,
                    "first_seen": when,
                    "last_updated": when,
                    "article_count": 1,
                    "source_count": 1,
                }
        if new_rows:
            ids = await _insert_ids(conn, stories, list(new_rows.values()))
            created = dict(zip(new_rows, ids, strict=True))
        touched.update(created[key] for key in touched_new)
        assignments = [
            {
                "a_id": j.article_id,
                "s_id": j.story_id if j.story_id is not None else created[j.key],
            }
            for j in joins
        ]
        if assignments:
            await conn.execute(
                update(articles)
                .where(articles.c.id == bindparam("a_id"))
                .values(story_id=bindparam("s_id")),
                assignments,
            )
        members: dict[int, list[Article]] = defaultdict(list)
        for chunk in _chunks(sorted(touched)):
            stats = await conn.execute(
                select(
                    articles.c.story_id,
                    func.count(),
                    func.count(func.distinct(articles.c.source)),
                    func.min(articles.c.published_at),
                    func.max(articles.c.published_at),
                )
                .where(articles.c.story_id.in_(chunk))
                .group_by(articles.c.story_id)
            )
            rows = [
                {"s_id": s, "n": n, "src": src, "first": first, "last": last}
                for s, n, src, first, last in stats
            ]
            if rows:
                await conn.execute(
                    update(stories)
                    .where(stories.c.id == bindparam("s_id"))
                    .values(
                        article_count=bindparam("n"),
                        source_count=bindparam("src"),
                        first_seen=bindparam("first"),
                        last_updated=bindparam("last"),
                    ),
                    rows,
                )
            for r in await conn.execute(_summary_members(chunk)):
                members[r.story_id].append(article_from_row(r))
    return created, dict(members)


# Members a story's headline and summary are made from: the first reports and the latest
# developments. A big story has hundreds of members; the summary compares every
# sentence with every other, so reading them all cost memory and time by the square.
SUMMARY_MEMBERS_EACH_END = 12


def _summary_members(story_ids: Sequence[int]) -> Any:
    """The earliest and latest ``SUMMARY_MEMBERS_EACH_END`` members of each story, in
    publication order."""
    order = (articles.c.published_at, articles.c.id)
    ranked = (
        select(
            *ARTICLE_COLUMNS,
            func.row_number().over(partition_by=articles.c.story_id, order_by=order).label("first"),
            func.row_number()
            .over(
                partition_by=articles.c.story_id,
                order_by=(articles.c.published_at.desc(), articles.c.id.desc()),
            )
            .label("last"),
        )
        .where(articles.c.story_id.in_(story_ids))
        .subquery()
    )
    limit = SUMMARY_MEMBERS_EACH_END
    return (
        select(*(ranked.c[c.name] for c in ARTICLE_COLUMNS))
        .where(or_(ranked.c.first <= limit, ranked.c.last <= limit))
        .order_by(ranked.c.published_at, ranked.c.id)
    )


async def summary_members(engine: AsyncEngine, story_id: int) -> list[Article]:
    """The members one story's headline and summary are made from: the same ones
    ``write_stories`` hands back for a story it touched."""
    async with engine.connect() as conn:
        return [article_from_row(r) for r in await conn.execute(_summary_members([story_id]))]


async def set_story_texts(engine: AsyncEngine, texts: dict[int, tuple[str, str]]) -> None:
    if not texts:
        return
    async with engine.begin() as conn:
        await conn.execute(
            update(stories)
            .where(stories.c.id == bindparam("s_id"))
            .values(title=bindparam("t"), summary=bindparam("s")),
            [{"s_id": k, "t": t, "s": s} for k, (t, s) in texts.items()],
        )
