"""Ingest benchmark: N feeds from a loopback server through the real poll cycle.

    python bench/ingest.py [--feeds 1000] [--data ../shared/data] [--workers 2] [--json]
    python bench/ingest.py --parse-only [--feeds 102]   # the parsers alone, one core

Feed i is a copy of a real capture from ``shared/data/feeds/fastfeedparser_benchmark``
with its own host name (``f<i>.bench.test``, resolved to 127.0.0.1 by an injected
resolver) and its own item ids and links. The server runs in its own process. Cycle 1
fetches and parses every feed (parsing in a process pool); cycle 2 polls again with the
stored state: even feeds answer 304, odd feeds re-send identical bytes without
validators, which the body hash skips. Drafts go into an in-memory dict keyed by
(feed, key), standing in for the database. Then feedparser's bare ``parse()`` runs over
the same bytes, serially, for comparison, and so do fastfeedparser's bare ``parse()`` and
our ``parse_feed`` with the fast path and with feedparser alone (drafts out, issue 14).
Goals (issue 3): cycle 1 ≤ 1.3 × bare / cores,
cycle 2 ≤ 10 % of cycle 1, peak RSS ≤ 300 MB. With ``--store`` (issue 14): store cycle 1
≤ 0.15 × bare on one core, store cycle 2 ≤ 5 % of store cycle 1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import multiprocessing
import os
import re
import resource
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.models import ArticleDraft  # noqa: E402
from bot.sources.fetch import Fetcher, FetchOptions  # noqa: E402
from bot.sources.poll import FeedPollState, Outcome, Poller, parse_pool  # noqa: E402

CAPTURES = "feeds/fastfeedparser_benchmark"
_GUID = re.compile(rb"(<guid\b[^>]*>\s*)")
_ATOM_ID = re.compile(rb"(<id>\s*)")
_LINK = re.compile(rb"(<link>\s*https?://|<link\b[^>]*\bhref=\"https?://)")
_JSON_ID = re.compile(rb'("id"\s*:\s*")')


def load_captures(data: Path) -> list[bytes]:
    folder = data / CAPTURES
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if not files:
        raise SystemExit(f"bench: no captures in {folder}")
    return [p.read_bytes() for p in files]


def feed_body(captures: list[bytes], i: int) -> bytes:
    """Copy ``i``: the capture ``i % len`` with unique item ids and links."""
    body = captures[i % len(captures)]
    tag = b"f%d-" % i
    body = _GUID.sub(lambda m: m.group(1) + tag, body)
    body = _ATOM_ID.sub(lambda m: m.group(1) + tag, body)
    body = _JSON_ID.sub(lambda m: m.group(1) + tag, body)
    return _LINK.sub(lambda m: m.group(1) + b"f%d." % i, body)


def serve(data: Path, conn: Connection) -> None:  # pragma: no cover - server process
    """The loopback feed server; sends its port through ``conn``, stops when told."""
    from aiohttp import web

    captures = load_captures(data)
    bodies: dict[int, bytes] = {}  # made once: the server shares the bench's two cores

    async def handler(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        body = bodies.get(i) or bodies.setdefault(i, feed_body(captures, i))
        if i % 2:  # odd feeds: no validators at all
            return web.Response(body=body, content_type="application/rss+xml")
        etag = f'"bench-{i}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(main())


async def resolve_bench(host: str, port: int) -> list[str]:
    if host.endswith(".bench.test"):
        return ["127.0.0.1"]
    raise OSError(f"bench: unknown host {host}")


async def run_cycles(port: int, n: int, workers: int) -> dict[str, float]:
    states = [
        FeedPollState(url=f"http://f{i}.bench.test:{port}/feed/{i}", interval_s=900)
        for i in range(n)
    ]
    store: dict[tuple[str, str], ArticleDraft] = {}
    options = FetchOptions(allow_private_networks=True, total_timeout=60, global_limit=64)
    figures: dict[str, float] = {}
    with parse_pool(workers) as pool:
        # Warm the pool up: spawning workers is start-up cost, not a poll cycle.
        list(pool.map(abs, range(workers * 4)))
        async with Fetcher(options, resolver=resolve_bench) as fetcher:
            poller = Poller(fetcher, executor=pool)
            for cycle in (1, 2):
                outcomes: dict[str, int] = {}
                items = 0
                new_states: dict[str, FeedPollState] = {}
                started = time.perf_counter()
                async for result in poller.poll_all(states, concurrency=4 * workers + 8):
                    outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
                    for draft in result.drafts:
                        store[(result.url, draft.key)] = draft
                    items += len(result.drafts)
                    new_states[result.url] = dataclasses.replace(
                        states[0],
                        url=result.url,
                        etag=result.etag,
                        last_modified=result.last_modified,
                        body_hash=result.body_hash,
                        failure_count=result.failure_count,
                    )
                elapsed = time.perf_counter() - started
                figures[f"cycle{cycle}_s"] = elapsed
                figures[f"cycle{cycle}_items"] = items
                for name in Outcome:
                    figures[f"cycle{cycle}_{name.value}"] = outcomes.get(name.value, 0)
                states = [new_states[s.url] for s in states]
        workers_pids = list(getattr(pool, "_processes", {}) or {})
        figures["peak_rss_parse_worker_mb"] = max((hwm_mb(pid) for pid in workers_pids), default=0)
    figures["stored_drafts"] = len(store)
    figures["stored_text_mb"] = sum(sys.getsizeof(d.text) for d in store.values()) / 1e6
    return figures


async def run_store_cycles(port: int, n: int, workers: int) -> dict[str, float]:
    """The same two cycles through the real ingest: leases, poll, dedupe, summarise,
    group into stories, SQLite. Full-text fetching is off (the captures link to the web)."""
    import tempfile
    from datetime import UTC, datetime, timedelta

    from bot.config import test_settings
    from bot.service.core import open_core

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, parse_pool(workers) as pool:
        list(pool.map(abs, range(workers * 4)))
        settings = test_settings(
            Path(tmp),
            sources={"allow_private_networks": True, "teaser_chars": 0, "global_concurrency": 64},
        )
        core = await open_core(settings, resolver=resolve_bench)
        try:
            for i in range(n):
                await core.db.feeds.add(f"http://f{i}.bench.test:{port}/feed/{i}", backfill=10**6)
            ingest = core.feed_ingest(pool)
            now = datetime.now(UTC)
            for cycle in (1, 2):
                report = await ingest.run_once(now=now + timedelta(days=cycle - 1))
                figures[f"store_cycle{cycle}_s"] = report.seconds
                figures[f"store_cycle{cycle}_new"] = report.stats.new
                figures[f"store_cycle{cycle}_linked_or_unchanged"] = report.stats.unchanged
            async with core.db.engine.connect() as conn:
                from sqlalchemy import func, select

                from bot.store.schema import articles, stories

                figures["store_articles"] = (
                    await conn.execute(select(func.count()).select_from(articles))
                ).scalar_one()
                figures["store_stories"] = (
                    await conn.execute(select(func.count()).select_from(stories))
                ).scalar_one()
        finally:
            await core.close()
    return figures


def _store_child(port: int, n: int, workers: int, conn: Connection) -> None:  # pragma: no cover
    """The store cycles in a fresh process, so its peak RSS is its own."""
    figures = asyncio.run(run_store_cycles(port, n, workers))
    figures["peak_rss_store_process_mb"] = peak_rss_mb(resource.RUSAGE_SELF)
    conn.send(figures)


def bare_parse_seconds(captures: list[bytes], n: int, **options: bool) -> tuple[float, float]:
    """feedparser.parse() over the same N bodies, one core; returns (seconds, MB)."""
    import feedparser

    total = 0.0
    size = 0
    for i in range(n):
        body = feed_body(captures, i)
        size += len(body)
        started = time.perf_counter()
        feedparser.parse(body, **options)
        total += time.perf_counter() - started
    return total, size / 1e6


def parser_seconds(captures: list[bytes], n: int) -> dict[str, float]:
    """The parsers over the same N bodies, one core, interleaved body by body: bare
    fastfeedparser; our reading (bytes to ``RawFeed``) with the fast path and with
    feedparser alone; and the whole ``parse_feed`` (drafts out) both ways."""
    import fastfeedparser

    from bot.errors import ParseError
    from bot.sources.parse import parse_feed, read_xml

    def timed(key: str, call: Callable[..., object], *args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        except (ParseError, ValueError):
            return None
        finally:
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - started

    totals: dict[str, float] = {}
    fallbacks = 0
    for i in range(n):
        body, url = feed_body(captures, i), f"http://f{i}.bench.test/feed/{i}"
        timed("fast_parse_s", fastfeedparser.parse, body)
        if body.lstrip()[:1] != b"{":  # JSON Feeds are read by hand either way
            read = timed("read_fast_s", read_xml, body, url=url)
            fallbacks += isinstance(read, tuple) and read[1] == "feedparser"
            timed("read_feedparser_s", read_xml, body, url=url, fast=False)
        timed("parse_feed_fast_s", parse_feed, body, url=url)
        timed("parse_feed_feedparser_s", parse_feed, body, url=url, fast=False)
    return {**totals, "parser_fallbacks": fallbacks}


def print_parsers(f: dict[str, float]) -> None:
    print(
        f"parsers, same bytes, 1 core: fastfeedparser {f['fast_parse_s']:.2f} s, feedparser "
        f"{f['bare_parse_s']:.2f} s (default) / {f['lean_parse_s']:.2f} s (no sanitising): "
        f"{f['bare_parse_s'] / f['fast_parse_s']:.0f}× / "
        f"{f['lean_parse_s'] / f['fast_parse_s']:.0f}× faster"
    )
    print(
        f"our reading, bytes to RawFeed: fast path {f['read_fast_s']:.2f} s "
        f"({f['parser_fallbacks']:.0f} of {f['feeds']:.0f} bodies fell back to feedparser), "
        f"feedparser alone {f['read_feedparser_s']:.2f} s: "
        f"{f['read_feedparser_s'] / f['read_fast_s']:.1f}× faster"
    )
    print(
        f"parse_feed, bytes to drafts: fast path {f['parse_feed_fast_s']:.2f} s, "
        f"feedparser alone {f['parse_feed_feedparser_s']:.2f} s: "
        f"{f['parse_feed_feedparser_s'] / f['parse_feed_fast_s']:.1f}× faster "
        "(the rest is HTML to text and normalising, the same on both paths)"
    )


def parse_only(args: argparse.Namespace) -> int:
    captures = load_captures(args.data)
    figures: dict[str, float] = {"feeds": args.feeds}
    figures["bare_parse_s"], figures["body_mb"] = bare_parse_seconds(captures, args.feeds)
    figures["lean_parse_s"], _ = bare_parse_seconds(
        captures, args.feeds, sanitize_html=False, resolve_relative_uris=False
    )
    figures.update(parser_seconds(captures, args.feeds))
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
    else:
        print(f"feeds: {args.feeds} ({figures['body_mb']:.1f} MB of feed bytes)")
        print_parsers(figures)
    return 0


def hwm_mb(pid: int | None) -> float:
    """Peak RSS of a live process from /proc (Linux), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--store",
        action="store_true",
        help="also run both cycles through the real ingest into SQLite (slower)",
    )
    parser.add_argument(
        "--parse-only", action="store_true", help="time the parsers alone (no server, no pool)"
    )
    args = parser.parse_args(argv)
    if not (args.data / CAPTURES).is_dir():
        print(f"bench: no feed captures under {args.data}; pass --data", file=sys.stderr)
        return 2
    if args.parse_only:
        return parse_only(args)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve, args=(args.data, theirs), daemon=True)
    server.start()
    port = ours.recv()
    try:
        figures = asyncio.run(run_cycles(port, args.feeds, args.workers))
        figures["peak_rss_server_mb"] = hwm_mb(server.pid)
        gc.collect()
        figures["peak_rss_ingest_mb"] = peak_rss_mb(resource.RUSAGE_SELF)
        if args.store:
            mine, child_end = ctx.Pipe()
            child = ctx.Process(
                target=_store_child, args=(port, args.feeds, args.workers, child_end)
            )
            child.start()
            figures.update(mine.recv())
            child.join(60)
    finally:
        ours.send("stop")
        server.join(10)
    captures = load_captures(args.data)
    bare, size_mb = bare_parse_seconds(captures, args.feeds)
    # What our parse_feed asks of feedparser: no HTML sanitising or URI rewriting, since
    # the text is reduced to plain text afterwards. Shows the pipeline's own overhead.
    lean, _ = bare_parse_seconds(
        captures, args.feeds, sanitize_html=False, resolve_relative_uris=False
    )
    figures.update(parser_seconds(captures, args.feeds))
    cores = min(args.workers, os.cpu_count() or 1)
    figures.update(
        feeds=args.feeds,
        workers=args.workers,
        cores_used=cores,
        body_mb=size_mb,
        bare_parse_s=bare,
        bare_parse_mb_per_s=size_mb / bare,
        feeds_per_s=args.feeds / figures["cycle1_s"],
        items_per_s=figures["cycle1_items"] / figures["cycle1_s"],
        lean_parse_s=lean,
        ratio_cycle1_to_bare_per_core=figures["cycle1_s"] / (bare / cores),
        ratio_cycle1_to_lean_per_core=figures["cycle1_s"] / (lean / cores),
        ratio_cycle2_to_cycle1=figures["cycle2_s"] / figures["cycle1_s"],
        **(
            {
                "ratio_store_cycle1_to_bare": figures["store_cycle1_s"] / bare,
                "ratio_store_cycle2_to_cycle1": figures["store_cycle2_s"]
                / figures["store_cycle1_s"],
            }
            if args.store
            else {}
        ),
        peak_rss_after_bare_mb=peak_rss_mb(resource.RUSAGE_SELF),
    )
    if args.json:
        print(
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()})
        )
        return 0
    f = figures
    print(f"feeds: {f['feeds']} ({f['body_mb']:.1f} MB of feed bytes), workers: {f['workers']}")
    print(
        f"cycle 1: {f['cycle1_s']:.2f} s, {f['feeds_per_s']:.0f} feeds/s, "
        f"{f['items_per_s']:.0f} items/s ({f['cycle1_items']:.0f} items, "
        f"{f['cycle1_parsed']:.0f} parsed, {f['cycle1_failed']:.0f} failed)"
    )
    print(
        f"cycle 2 (unchanged): {f['cycle2_s']:.2f} s ({f['cycle2_not_modified']:.0f} × 304, "
        f"{f['cycle2_unchanged']:.0f} skipped by body hash, {f['cycle2_parsed']:.0f} parsed)"
    )
    print(
        f"feedparser bare parse, same bytes, 1 core: {f['bare_parse_s']:.2f} s "
        f"({f['bare_parse_mb_per_s']:.2f} MB/s)"
    )
    print(
        f"feedparser without sanitising (the options parse_feed uses): {f['lean_parse_s']:.2f} s; "
        f"cycle 1 / (that / {cores} cores) = {f['ratio_cycle1_to_lean_per_core']:.2f}"
    )
    print_parsers(f)
    print(
        f"ratios: cycle 1 / (bare / {cores} cores) = {f['ratio_cycle1_to_bare_per_core']:.2f} "
        f"(goal ≤ 1.3); cycle 2 / cycle 1 = {f['ratio_cycle2_to_cycle1']:.1%} (goal ≤ 10%)"
    )
    print(
        f"peak RSS: ingest process {f['peak_rss_ingest_mb']:.0f} MB (goal ≤ 300; it holds "
        f"{f['stored_drafts']:.0f} drafts, {f['stored_text_mb']:.0f} MB of text, in its dict), "
        f"each parse worker ≤ {f['peak_rss_parse_worker_mb']:.0f} MB, "
        f"server {f['peak_rss_server_mb']:.0f} MB"
    )
    if args.store:
        print(
            f"with the store (SQLite, dedupe, summaries, stories): cycle 1 "
            f"{f['store_cycle1_s']:.2f} s, "
            f"{f['cycle1_items'] / f['store_cycle1_s']:.0f} items/s "
            f"({f['store_cycle1_new']:.0f} new articles; "
            f"{f['store_cycle1_linked_or_unchanged']:.0f} items linked to an article already "
            "stored: the copies share content), "
            f"cycle 2 {f['store_cycle2_s']:.2f} s "
            f"({f['ratio_store_cycle2_to_cycle1']:.1%} of cycle 1, goal ≤ 5%); cycle 1 / "
            f"feedparser's bare parse on one core = {f['ratio_store_cycle1_to_bare']:.2f} "
            "(goal ≤ 0.15); "
            f"{f['store_articles']:.0f} articles in {f['store_stories']:.0f} stories; "
            f"peak RSS of that process {f['peak_rss_store_process_mb']:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
