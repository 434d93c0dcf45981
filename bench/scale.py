"""Several `briefbot run` processes on one PostgreSQL database, measured.

Serves ``--feeds`` RSS feeds (default 2,000) from a loopback aiohttp server, made from
the real AllSides articles (``--data``; each feed is its own outlet, and the members of
one story sit on different feeds, so different processes ingest them), then for 1, 2
and 4 processes (``--processes``) of ``python -m bot run --no-console``:

- every feed is fetched exactly once per cycle (the server counts each feed's hits),
  over a first cycle and an unchanged second cycle (304s);
- the cycle's throughput and the speed-up against 1 process;
- story grouping across processes: B³-F1 of the N-process stories against the
  1-process stories (and of both against the AllSides labels);
- with the most processes: SIGKILL the scheduler leader, time until another process
  holds the advisory lock, and until it claims the next digest slot (a webhook channel
  with a digest every minute, posted to a loopback Discord webhook);
- `/briefing` p50/p99 over ``--articles`` stored articles (default 100,000) on
  PostgreSQL and on SQLite, in the same run (``bench/briefing.py``'s fill and timing).

    python bench/scale.py --database-url postgresql://postgres@127.0.0.1:5432/bench_NAME
        [--feeds 2000] [--processes 1,2,4] [--articles 100000] [--quick] [--json]

The database must be one you can throw away: its public schema is dropped per run.
``--quick`` runs 300 feeds with 1 and 2 processes and 20,000 articles.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import aiohttp  # noqa: E402
import psycopg  # noqa: E402
from aiohttp import web  # noqa: E402
from briefing import fill, measure, real_stories  # noqa: E402
from stories import bcubed  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "stories" / "allsides_dev.jsonl"
WEBHOOK_ENV = "BENCH_SCALE_WEBHOOK"


@dataclass
class Item:
    guid: str
    title: str
    text: str
    url: str
    label: str
    published: datetime


@dataclass
class Corpus:
    feeds: list[list[Item]]

    @property
    def items(self) -> int:
        return sum(len(f) for f in self.feeds)


def build_corpus(path: Path, n_feeds: int, now: datetime) -> Corpus:
    """AllSides articles spread over ``n_feeds`` feeds at random (seeded): the members of
    a story land on different feeds. Story times keep their order, squeezed into the
    last 40 hours so every article is inside the grouping and briefing windows."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    times = sorted({r["time"] for r in rows})
    step = timedelta(hours=40) / max(1, len(times))
    when = {t: now - timedelta(hours=41) + step * k for k, t in enumerate(times)}
    rng = random.Random(13)
    rng.shuffle(rows)
    feeds: list[list[Item]] = [[] for _ in range(n_feeds)]
    for k, row in enumerate(rows):
        feeds[k % n_feeds].append(
            Item(
                guid=row["id"],
                title=row["title"],
                text=row["text"],
                url=f"https://news.example/{row['id']}",
                label=str(row["story"]),
                published=when[row["time"]],
            )
        )
    return Corpus(feeds)


def rss(n: int, items: list[Item]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.url)}</link>"
        f"<guid>{escape(i.guid)}</guid>"
        f"<pubDate>{email.utils.format_datetime(i.published)}</pubDate>"
        f"<description>{escape(i.text)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {n}</title><link>https://outlet{n}.example/</link>"
        f"<description>bench feed {n}</description>{entries}</channel></rss>"
    ).encode()


@dataclass
class Loopback:
    """The feeds (with ETag/304) and a Discord webhook, counting what they serve."""

    corpus: Corpus
    hits: Counter[int] = field(default_factory=Counter)
    posts: list[float] = field(default_factory=list)
    bodies: dict[int, tuple[bytes, str]] = field(default_factory=dict)

    def app(self) -> web.Application:
        for n, items in enumerate(self.corpus.feeds):
            body = rss(n, items)
            self.bodies[n] = (body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')

        async def feed(request: web.Request) -> web.Response:
            n = int(request.match_info["n"])
            self.hits[n] += 1
            body, etag = self.bodies[n]
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(
                body=body, content_type="application/rss+xml", headers={"ETag": etag}
            )

        async def webhook(request: web.Request) -> web.Response:
            await request.read()
            self.posts.append(time.time())
            return web.json_response({"id": str(len(self.posts))})

        app = web.Application()
        app.router.add_get("/feed/{n}.xml", feed)
        app.router.add_post("/api/webhooks/{id}/{token}", webhook)
        return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reset_schema(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def sql(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def config(url: str, port: int, args: argparse.Namespace, seeds: Path) -> str:
    return f"""
[bot]
database_url = "{url}"
log_level = "INFO"
[sources]
seeds_dir = "{seeds}"
seeds_interval_minutes = 600.0
allow_private_networks = true
teaser_chars = 0
backfill = 1000
poll_interval_minutes = 600.0
[webhooks]
url_envs = ["{WEBHOOK_ENV}"]
schedule = "* * * * *"
timezone = "UTC"
[web]
enabled = true
port = {port}
[service]
poll_check_s = 1.0
grouping_check_s = 2.0
leader_check_s = {args.leader_check:g}
grouping_max_wait_s = {args.group_wait:g}
"""


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    port: int

    async def readyz(self, session: aiohttp.ClientSession) -> str:
        try:
            async with session.get(f"http://127.0.0.1:{self.port}/readyz") as response:
                return await response.text()
        except aiohttp.ClientError:
            return ""


def spawn(config_path: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`briefbot run` as systemd would start it: no terminal, logs to a file."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config_path), "run", "--no-console"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def start(n: int, url: str, hook: str, args: argparse.Namespace, tmp: Path) -> list[Proc]:
    seeds = tmp / "seeds"
    seeds.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), WEBHOOK_ENV: hook}
    env.pop("SLACK_BOT_TOKEN", None)
    env.pop("DISCORD_TOKEN", None)
    procs = []
    for k in range(n):
        port = free_port()
        path = tmp / f"p{n}-{k}.toml"
        path.write_text(config(url, port, args, seeds), encoding="utf-8")
        popen = spawn(path, env, tmp / f"p{n}-{k}.log")
        procs.append(Proc(popen, port))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answers = [await p.readyz(session) for p in procs]
            if all(a.startswith("ready") for a in answers):
                return procs
            if any(p.popen.poll() is not None for p in procs):
                break
            await asyncio.sleep(0.5)
    stop(procs)
    raise SystemExit(f"scale: processes did not become ready; logs in {tmp}")


def stop(procs: list[Proc]) -> None:
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.popen.kill()


async def wait_until(check: Any, limit_s: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if await asyncio.to_thread(check):
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise SystemExit(f"scale: timed out after {limit_s:.0f} s waiting for {what}")


def insert_feeds(url: str, base: str, n_feeds: int) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO feeds (url, interval_s, backfill, failure_count, gone, created_at) "
            "VALUES (%s, 36000, 1000, 0, false, %s)",
            [(f"{base}/feed/{n}.xml", now) for n in range(n_feeds)],
        )


def stories_by_guid(url: str) -> dict[str, int]:
    """Story id by AllSides id (the article's link ends with it)."""
    rows = sql(url, "SELECT canonical_url, story_id FROM articles WHERE story_id IS NOT NULL")
    return {link.rsplit("/", 1)[-1]: story for link, story in rows}


def agreement(reference: dict[str, int], other: dict[str, int]) -> float:
    keys = sorted(set(reference) & set(other))
    _, _, f1 = bcubed([str(reference[k]) for k in keys], [other[k] for k in keys])
    return round(f1, 4)


async def run_processes(
    n: int, corpus: Corpus, server: Loopback, base: str, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    url = args.database_url
    reset_schema(url)
    from bot.store.migrate import upgrade

    await asyncio.to_thread(upgrade, url)  # once, before the processes race to it
    procs = await start(n, url, f"{base}/api/webhooks/1/bench", args, tmp)
    server.hits.clear()
    n_feeds = len(corpus.feeds)
    result: dict[str, Any] = {"processes": n, "feeds": n_feeds, "items": corpus.items}
    try:
        insert_feeds(url, base, n_feeds)

        def first_cycle_done() -> bool:
            # Articles are stored before their feed is recorded as fetched, so once
            # every feed is, no article without a story is left to group.
            (left, orphans) = sql(
                url,
                "SELECT (SELECT count(*) FROM feeds WHERE last_fetch_at IS NULL), "
                "(SELECT count(*) FROM articles WHERE story_id IS NULL)",
            )[0]
            return left == 0 and orphans == 0

        seconds = await wait_until(first_cycle_done, args.timeout, "the first cycle")
        once = all(server.hits[k] == 1 for k in range(n_feeds)) and len(server.hits) == n_feeds
        result.update(
            cycle_s=round(seconds, 2),
            feeds_per_s=round(n_feeds / seconds, 1),
            items_per_s=round(corpus.items / seconds, 1),
            fetched_once=once,
            max_fetches_per_feed=max(server.hits.values()),
        )
        marked = datetime.now(UTC)
        sql(url, "UPDATE feeds SET next_fetch_at = %s", (marked,))

        def second_cycle_done() -> bool:
            return (
                sql(url, "SELECT count(*) FROM feeds WHERE last_fetch_at < %s", (marked,))[0][0]
                == 0
            )

        seconds = await wait_until(second_cycle_done, args.timeout, "the unchanged cycle")
        result.update(
            unchanged_cycle_s=round(seconds, 2),
            fetched_once_per_cycle=once and all(server.hits[k] == 2 for k in range(n_feeds)),
        )
        result["stories"] = stories_by_guid(url)
        if n > 1 and n == max(args.process_counts):
            result["takeover"] = await kill_leader(procs, url, args)
    finally:
        stop(procs)
    return result


async def kill_leader(procs: list[Proc], url: str, args: argparse.Namespace) -> dict[str, Any]:
    """SIGKILL the leader; time until a survivor leads, and until it claims a slot."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        roles = [await p.readyz(session) for p in procs]
        leaders = [p for p, r in zip(procs, roles, strict=True) if "scheduler: leader" in r]
        assert len(leaders) == 1, roles
        leader = leaders[0]
        killed_at = datetime.now(UTC)
        started = time.monotonic()
        leader.popen.send_signal(signal.SIGKILL)
        leader.popen.wait()
        survivors = [p for p in procs if p is not leader]
        took = None
        while time.monotonic() - started < args.leader_check + 60:
            answers = [await p.readyz(session) for p in survivors]
            if sum("scheduler: leader" in a for a in answers) == 1:
                took = time.monotonic() - started
                break
            await asyncio.sleep(0.1)
        if took is None:
            raise SystemExit("scale: no process took the leadership over")
    next_slot = (killed_at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%MZ")

    def slot_claimed() -> bool:
        return bool(
            sql(
                url,
                "SELECT 1 FROM deliveries WHERE slot_key = %s AND status IN ('sent', 'dead')",
                (next_slot,),
            )
        )

    await wait_until(slot_claimed, args.leader_check + 180, f"slot {next_slot}")
    (status, created) = sql(
        url, "SELECT status, created_at FROM deliveries WHERE slot_key = %s", (next_slot,)
    )[0]
    due = datetime.strptime(next_slot, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    return {
        "leader_check_s": args.leader_check,
        "lock_taken_over_s": round(took, 2),
        "next_slot": next_slot,
        "next_slot_status": status,
        "slot_posted_after_due_s": round((created - due).total_seconds(), 2),
    }


async def briefing_latency(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    now = datetime.now(UTC)
    templates = real_stories(args.data)
    out = {}
    for name, url in (
        ("postgresql", args.database_url),
        ("sqlite", f"sqlite:///{tmp / 'briefing.db'}"),
    ):
        if name == "postgresql":
            reset_schema(url)
        started = time.perf_counter()
        await fill(url, args.articles, now, templates)
        filled = time.perf_counter() - started
        timings = await measure(url, args.runs, now)
        out[name] = {"fill_s": round(filled, 1), **timings}
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    corpus = build_corpus(args.data, args.feeds, datetime.now(UTC))
    server = Loopback(corpus)
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    labels = {i.guid: i.label for f in corpus.feeds for i in f}
    results: dict[str, Any] = {"runs": []}
    with tempfile.TemporaryDirectory(prefix="briefbot-scale-") as tmp:
        print(f"scale: process logs in {tmp} (kept with --keep)", file=sys.stderr)
        try:
            for n in args.process_counts:
                print(f"scale: {n} process(es) over {args.feeds} feeds", file=sys.stderr)
                results["runs"].append(
                    await run_processes(n, corpus, server, base, args, Path(tmp))
                )
            print(f"scale: /briefing over {args.articles} articles", file=sys.stderr)
            results["briefing"] = await briefing_latency(args, Path(tmp))
        finally:
            await runner.cleanup()
            if args.keep:
                kept = Path(tempfile.mkdtemp(prefix="briefbot-scale-logs-"))
                for log in sorted(os.listdir(tmp)):
                    if log.endswith(".log"):
                        os.rename(Path(tmp) / log, kept / log)
                print(f"scale: logs kept in {kept}", file=sys.stderr)
    reference = results["runs"][0]["stories"]
    for run in results["runs"]:
        run["speedup"] = round(results["runs"][0]["cycle_s"] / run["cycle_s"], 2)
        stories = run.pop("stories")
        run["story_count"] = len(set(stories.values()))
        run["b3_vs_1_process"] = agreement(reference, stories)
        run["b3_vs_allsides"] = agreement(labels_as_ids(labels, stories), stories)
        if "takeover" in run:
            results["takeover"] = run.pop("takeover")
    return results


def labels_as_ids(labels: dict[str, str], stories: dict[str, int]) -> dict[str, int]:
    ids: dict[str, int] = {}
    return {k: ids.setdefault(labels[k], len(ids)) for k in stories if k in labels}


def print_table(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"{args.feeds} loopback feeds, {results['runs'][0]['items']} items (AllSides dev)")
    print(
        f"{'processes':>9} {'cycle s':>8} {'feeds/s':>8} {'items/s':>8} {'speed-up':>8} "
        f"{'once/cycle':>10} {'304 cycle s':>11} {'stories':>7} {'B3 vs 1':>7} {'B3 labels':>9}"
    )
    for r in results["runs"]:
        print(
            f"{r['processes']:>9} {r['cycle_s']:>8.2f} {r['feeds_per_s']:>8.1f} "
            f"{r['items_per_s']:>8.1f} {r['speedup']:>8.2f} "
            f"{'yes' if r['fetched_once_per_cycle'] else 'NO':>10} "
            f"{r['unchanged_cycle_s']:>11.2f} {r['story_count']:>7} "
            f"{r['b3_vs_1_process']:>7.4f} {r['b3_vs_allsides']:>9.4f}"
        )
    takeover = results.get("takeover")
    if takeover:
        print(
            f"leader SIGKILLed: lock taken over after {takeover['lock_taken_over_s']:.2f} s "
            f"(followers try every {takeover['leader_check_s']:g} s); slot "
            f"{takeover['next_slot']} {takeover['next_slot_status']} "
            f"{takeover['slot_posted_after_due_s']:.2f} s after it was due"
        )
    print(f"/briefing over {args.articles} articles, {args.runs} runs (ms)")
    print(f"{'database':<11} {'command':<18} {'p50':>7} {'p99':>7}")
    for db, timings in results["briefing"].items():
        for label in ("briefing", "briefing_topic", "briefing_last_6h"):
            row = timings[label]
            print(f"{db:<11} {label:<18} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BRIEFBOT_BENCH_POSTGRES_URL"),
        help="a PostgreSQL database to throw away (or BRIEFBOT_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--feeds", type=int, default=None, help="loopback feeds (2000)")
    parser.add_argument("--processes", default=None, help="process counts (1,2,4)")
    parser.add_argument("--articles", type=int, default=None, help="for /briefing (100000)")
    parser.add_argument("--runs", type=int, default=200, help="/briefing calls per command")
    parser.add_argument("--leader-check", type=float, default=5.0, help="[service] leader_check_s")
    parser.add_argument(
        "--group-wait",
        type=float,
        default=1800.0,
        help="[service] grouping_max_wait_s: above a cycle's length, so each run groups "
        "its whole cycle at once, as one process would",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="per cycle, seconds")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true", help="300 feeds, 1 and 2 processes")
    parser.add_argument("--keep", action="store_true", help="keep the processes' logs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url postgresql://… (a database to throw away) is required")
    if not args.data.is_file():
        parser.error(f"{args.data} not found (the AllSides dev set; --data PATH)")
    args.feeds = args.feeds or (300 if args.quick else 2000)
    args.articles = args.articles or (20_000 if args.quick else 100_000)
    args.process_counts = [
        int(n) for n in (args.processes or ("1,2" if args.quick else "1,2,4")).split(",")
    ]
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results))
    else:
        print_table(results, args)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
