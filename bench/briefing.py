"""`/briefing` latency over a large store: p50/p99 of the whole command path.

Fills a SQLite file (or ``--database-url``) with N articles spread over 30 days, made by
replicating the real AllSides articles (``--data``, default
``../shared/data/stories/allsides_dev.jsonl``; each copy of a labelled story gets new
ids and dates, members keep their outlets; synthetic text when the file is absent), then times
``CommandRouter.dispatch`` for `/briefing`, `/briefing <topic>` and `/briefing last 6h`
— query, ranking, composition — plus the Markdown render. The baseline, measured in
the same run, is the naive path: load every article of the window and group in Python.

    python bench/briefing.py [--articles 100000] [--runs 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bot.config import test_settings
from bot.core.models import IncomingCommand
from bot.delivery.render_text import render_markdown
from bot.service.core import open_core
from bot.store.schema import articles, item_keys, stories

WORDS = tuple(
    [
        "ukraine",
        "talks",
        "energy",
        "market",
        "election",
        "storm",
        "flood",
        "budget",
        "court",
        "vaccine",
        "climate",
        "rates",
        "inflation",
        "strike",
        "border",
        "summit",
        "trade",
        "oil",
        "bank",
        "tech",
        "chip",
        "school",
        "police",
        "fire",
        "football",
        "league",
        "trial",
        "minister",
        "parliament",
        "drought",
        "harvest",
        "rail",
        "airport",
    ]
)
SOURCES = [f"Outlet {n}" for n in range(40)]


def real_stories(path: Path) -> list[list[dict[str, str]]]:
    """AllSides items grouped by their story label (title, text, publisher)."""
    groups: dict[str, list[dict[str, str]]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            groups.setdefault(str(row["story"]), []).append(row)
    return list(groups.values())


def synthetic_stories(rng: random.Random, count: int = 500) -> list[list[dict[str, str]]]:
    out = []
    for n in range(count):
        topic = " ".join(rng.sample(WORDS, 3))
        size = rng.choice([1, 1, 2, 3, 4, 6])
        out.append(
            [
                {
                    "title": f"Story {n} about {topic} ({m})",
                    "text": f"Body about {topic}. " * 20,
                    "publisher": rng.choice(SOURCES),
                }
                for m in range(size)
            ]
        )
    return out


async def fill(
    url: str, n_articles: int, now: datetime, templates: list[list[dict[str, str]]]
) -> None:
    core = await open_core(test_settings(Path(tempfile.gettempdir()), bot={"database_url": url}))
    rng = random.Random(7)
    engine = core.db.engine
    made = 0
    story_rows = []
    article_rows = []
    key_rows = []
    story_id = 0
    while made < n_articles:
        story_id += 1
        template = templates[story_id % len(templates)]
        members = template[: n_articles - made]
        first = now - timedelta(minutes=rng.uniform(0, 30 * 24 * 60))
        published = [min(now, first + timedelta(minutes=rng.uniform(0, 600))) for _ in members]
        story_rows.append(
            {
                "id": story_id,
                "title": members[0]["title"],
                "summary": members[0]["text"][:300],
                "first_seen": min(published),
                "last_updated": max(published),
                "article_count": len(members),
                "source_count": len({m["publisher"] for m in members}),
            }
        )
        for member, when in zip(members, published, strict=True):
            made += 1
            article_rows.append(
                {
                    "id": made,
                    "origin": "bench",
                    "source": member["publisher"],
                    "canonical_url": f"https://example.org/{made}",
                    "title": member["title"],
                    "published_at": when,
                    "fetched_at": when,
                    "text": member["text"],
                    "summary": member["text"][:300],
                    "content_hash": f"{made:064d}",
                    "story_id": story_id,
                }
            )
            key_rows.append(
                {"origin": "bench", "item_key": str(made), "article_id": made, "first_seen": when}
            )
    async with engine.begin() as conn:
        for table, rows in ((stories, story_rows), (articles, article_rows), (item_keys, key_rows)):
            for start in range(0, len(rows), 5000):
                await conn.execute(insert(table), rows[start : start + 5000])
    await core.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def measure(url: str, runs: int, now: datetime) -> dict[str, dict[str, float]]:
    core = await open_core(
        test_settings(Path(tempfile.gettempdir()), bot={"database_url": url}),
        clock=lambda: now,
    )
    results: dict[str, dict[str, float]] = {}
    try:
        for label, text in (
            ("briefing", ""),
            ("briefing_topic", "flood"),
            ("briefing_last_6h", "last 6h"),
        ):
            cmd = IncomingCommand(platform="console", channel="bench", user="u", text=text)
            await core.router.dispatch(cmd)  # warm caches and the connection pool
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                reply = await core.router.dispatch(cmd)
                if reply.briefing is not None:
                    render_markdown(reply.briefing)
                times.append((time.perf_counter() - started) * 1000)
            results[label] = {
                "p50_ms": round(statistics.median(times), 2),
                "p99_ms": round(percentile(times, 99), 2),
                "stories": float(len(reply.briefing.items) if reply.briefing else 0),
            }
        # Baseline: every article of the 24 h window loaded and grouped in Python.
        times = []
        for _ in range(max(5, runs // 10)):
            started = time.perf_counter()
            async with core.db.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(articles).where(articles.c.published_at >= now - timedelta(hours=24))
                    )
                ).all()
            groups: dict[int, list[object]] = {}
            for row in rows:
                groups.setdefault(row.story_id, []).append(row)
            times.append((time.perf_counter() - started) * 1000)
        results["naive_window_scan"] = {
            "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(percentile(times, 99), 2),
            "stories": float(len(groups)),
        }
    finally:
        await core.close()
    return results


async def main_async(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        rng = random.Random(7)
        templates = real_stories(args.data) if args.data.is_file() else synthetic_stories(rng)
        source = args.data if args.data.is_file() else "synthetic text"
        print(f"replicating {len(templates)} stories from {source}", file=sys.stderr)
        await fill(url, args.articles, now, templates)
        print(
            f"filled {args.articles} articles in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        return await measure(url, args.runs, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[2]
        / "shared"
        / "data"
        / "stories"
        / "allsides_dev.jsonl",
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--database-url", default=None, help="an EMPTY database (default: temp SQLite)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results))
        return
    print(f"/briefing over {args.articles} stored articles, {args.runs} runs each")
    print(f"{'system':<20} {'p50 ms':>8} {'p99 ms':>8} {'stories':>8}")
    for name, row in results.items():
        print(f"{name:<20} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['stories']:>8.0f}")


if __name__ == "__main__":
    main()
