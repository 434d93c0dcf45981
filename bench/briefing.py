"""`/briefing` latency over a large store: p50/p99 of the whole command path.

Fills a SQLite file (or ``--database-url``) with N synthetic articles spread over 30
days and grouped into stories of 1–6 articles from different sources, then times
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

from bot.app import open_core
from bot.config import test_settings
from bot.core.models import IncomingCommand
from bot.delivery.render_text import render_markdown
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


async def fill(url: str, n_articles: int, now: datetime) -> None:
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
        size = min(rng.choice([1, 1, 1, 2, 2, 3, 4, 6]), n_articles - made)
        first = now - timedelta(minutes=rng.uniform(0, 30 * 24 * 60))
        topic = " ".join(rng.sample(WORDS, 3))
        published = [first + timedelta(minutes=rng.uniform(0, 600)) for _ in range(size)]
        published = [min(p, now) for p in published]
        story_rows.append(
            {
                "id": story_id,
                "title": f"Story {story_id} about {topic}",
                "summary": f"What happened in {topic}. More detail follows here.",
                "first_seen": min(published),
                "last_updated": max(published),
                "article_count": size,
                "source_count": size,
            }
        )
        for n, when in enumerate(published):
            made += 1
            article_rows.append(
                {
                    "id": made,
                    "origin": "bench",
                    "source": rng.choice(SOURCES),
                    "canonical_url": f"https://example.org/{made}",
                    "title": f"Article {made}: {topic} ({n})",
                    "published_at": when,
                    "fetched_at": when,
                    "text": f"Body about {topic}. " * 20,
                    "summary": f"Summary about {topic}.",
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
        await fill(url, args.articles, now)
        print(
            f"filled {args.articles} articles in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        return await measure(url, args.runs, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
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
