"""Memory benchmark: ``briefbot run`` as a real process at 10,000 feeds and 100,000 articles.

    python bench/memory.py [--feeds 10000] [--articles 100000] [--cycles 3]
                           [--briefings 100] [--json] [--keep DIR]

What it does, in order:

1. A fresh SQLite database gets its schema from the real migrations (``briefbot feeds
   list`` in a child), then ``--articles`` articles in stories of about three, spread
   over the last ``--days`` days (bulk SQL: the store's own tables, texts from
   ``shared/data/summarization/bbc_news_summary.jsonl`` when present), and ``--feeds``
   feeds, all due now.
2. A loopback feed server (its own process) answers on 127.0.1.1 … 127.0.1.<hosts>, so
   the per-host fetch limit sees many hosts. Every request for a feed returns five
   items of which one is new, so each poll stores one article per feed (after the first
   poll, which only marks the items it finds as seen).
3. ``briefbot run --console`` starts with stdin and stdout as pipes (the terminal chat,
   through ``ConsoleHarness``, with the scheduler polling every minute); the SSRF guard
   lets loopback through because the config sets ``allow_private_networks = true``.
4. A sampler reads ``VmRSS`` and ``VmHWM`` from ``/proc/<pid>/status`` for the bot and
   every descendant (the parse workers) every 0.5 s.
5. It waits until the server has seen every feed ``--cycles`` times, then sends
   ``--briefings`` ``/briefing`` commands one at a time (each followed by an unknown
   command whose echo marks the end of the reply), then ``quit``.

Reported: the main process's peak (VmHWM) and steady RSS (median of the samples after
the last cycle, through the briefings), RSS at the end of each phase, and the workers'
peak and steady RSS separately. ``--json`` prints one object; otherwise a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "summarization" / "bbc_news_summary.jsonl"
FALLBACK_TEXT = (
    "The council voted on Tuesday to close the old coal plant by 2030. "
    "The plant employs about 300 people and supplies a third of the region's power. "
    "Workers will be offered jobs at a new solar farm, the council said. "
    "A final vote on the grant is expected next month."
)


# --- corpus -------------------------------------------------------------------------


def load_texts(path: Path, limit: int = 2000) -> list[tuple[str, str]]:
    """(title, body) pairs: the BBC corpus when present, else one stock article."""
    if not path.exists():
        return [(f"Coal plant closure {i}", FALLBACK_TEXT) for i in range(50)]
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)["article"].strip()
            title, _, body = article.partition("\n")
            if body.strip():
                out.append((title.strip()[:200], body.strip()[:3000]))
            if len(out) >= limit:
                break
    return out


# --- loopback feed server (own process) ---------------------------------------------


def _rss(i: int, polls: int, texts: list[tuple[str, str]]) -> bytes:
    items = []
    for k in range(polls, polls + 5):  # item k appears at polls k-4 .. k
        title, body = texts[(i * 7 + k) % len(texts)]
        link = f"https://news{i % 97}.example/f{i}/item{k}"
        day = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=k)
        items.append(
            f"<item><title>{_esc(title)} ({i}/{k})</title><link>{link}</link>"
            f"<guid>f{i}-i{k}</guid><pubDate>{day:%a, %d %b %Y %H:%M:%S} +0000</pubDate>"
            f"<description>{_esc(body[:1200])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Bench feed {i}</title><link>https://news{i % 97}.example/</link>"
        f"<description>feed {i}</description>{''.join(items)}</channel></rss>"
    ).encode()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def serve(hosts: int, feeds: int, data: Path, conn: Connection) -> None:  # pragma: no cover
    """Answer /f/<i> on 127.0.1.1..127.0.1.<hosts>; /stats gives poll counts."""
    import asyncio

    from aiohttp import web

    texts = load_texts(data)
    counts = [0] * feeds

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        body = _rss(i, counts[i], texts)
        counts[i] += 1
        return web.Response(body=body, content_type="application/rss+xml")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"min": min(counts), "max": max(counts), "sum": sum(counts)})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{i}", feed)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        first = web.TCPSite(runner, "127.0.1.1", 0, backlog=1024)
        await first.start()
        port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for h in range(2, hosts + 1):
            await web.TCPSite(runner, f"127.0.1.{h}", port, backlog=1024).start()
        conn.send(port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told
        await runner.cleanup()

    asyncio.run(main())


# --- database -----------------------------------------------------------------------


def _ts(when: datetime) -> str:
    """The store's UTC datetime column format in SQLite (what SQLAlchemy writes)."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def populate(db: Path, feeds: int, articles: int, days: float, port: int, hosts: int) -> None:
    """Feeds (all due), then articles in stories of about three, by bulk SQL."""
    from bot.text.summarize import ExtractiveSummarizer

    texts = load_texts(DATA)
    summarizer = ExtractiveSummarizer()
    summaries = [summarizer.summarize(t, b) for t, b in texts]
    now = datetime.now(UTC)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    with con:
        con.executemany(
            "INSERT INTO feeds (url, title, interval_s, failure_count, gone, backfill, "
            "created_at) VALUES (?, ?, 60, 0, 0, 0, ?)",
            (
                (f"http://127.0.1.{i % hosts + 1}:{port}/f/{i}", f"Bench feed {i}", _ts(now))
                for i in range(feeds)
            ),
        )
        span = days * 86400.0
        n_stories = max(1, articles // 3)
        story_rows = []
        for s in range(n_stories):
            first = now - timedelta(seconds=span * (1 - s / n_stories))
            t, _ = texts[s % len(texts)]
            story_rows.append((s + 1, t, summaries[s % len(texts)], _ts(first), _ts(first)))
        con.executemany(
            "INSERT INTO stories (id, title, summary, first_seen, last_updated, "
            "article_count, source_count) VALUES (?, ?, ?, ?, ?, 3, 3)",
            story_rows,
        )
        article_rows = []
        key_rows = []
        for a in range(articles):
            story = a % n_stories
            when = now - timedelta(seconds=span * (1 - story / n_stories) - 60 * (a // n_stories))
            title, body = texts[(a * 13) % len(texts)]
            feed_id = a % max(feeds, 1) + 1
            url = f"https://news{a % 97}.example/stored/{a}"
            article_rows.append(
                (
                    a + 1,
                    feed_id if feeds else None,
                    f"feed:{feed_id}",
                    f"news{a % 97}.example",
                    url,
                    f"{title} #{a}",
                    _ts(when),
                    _ts(when),
                    body,
                    summaries[(a * 13) % len(texts)],
                    hashlib.sha256(b"%d" % a).hexdigest(),
                    story + 1,
                )
            )
            key_rows.append((f"feed:{feed_id}", f"stored-{a}", a + 1, _ts(when)))
            if len(article_rows) >= 5000:
                _insert_articles(con, article_rows, key_rows)
                article_rows, key_rows = [], []
        _insert_articles(con, article_rows, key_rows)
    con.close()


def _insert_articles(con: sqlite3.Connection, rows: list[Any], keys: list[Any]) -> None:
    con.executemany(
        "INSERT INTO articles (id, feed_id, origin, source, canonical_url, title, "
        "published_at, fetched_at, text, summary, content_hash, story_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.executemany(
        "INSERT INTO item_keys (origin, item_key, article_id, first_seen) VALUES (?, ?, ?, ?)",
        keys,
    )


# --- sampling -----------------------------------------------------------------------


def _status_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB; (0, 0) once the process is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def _cmdline(pid: int) -> str:
    """What a child runs (a parse worker, multiprocessing's resource tracker...)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        return "?"
    text = b" ".join(args).decode(errors="replace")
    for marker in ("resource_tracker", "forkserver", "spawn_main", "fork"):
        if marker in text:
            return marker
    return text[:80]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children of children too), from /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Sampler(threading.Thread):
    """Samples the bot and its descendants every ``every`` seconds, labelled by phase."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.every = every
        self.phase = "startup"
        self.samples: list[dict[str, Any]] = []
        self.worker_hwm: dict[int, int] = {}
        self.worker_names: dict[int, str] = {}
        self.main_hwm = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.every)

    def sample(self) -> None:
        rss, hwm = _status_kb(self.pid)
        if not rss:
            return
        self.main_hwm = max(self.main_hwm, hwm)
        workers = {}
        for child in descendants(self.pid):
            w_rss, w_hwm = _status_kb(child)
            if w_rss:
                workers[child] = w_rss
                self.worker_hwm[child] = max(self.worker_hwm.get(child, 0), w_hwm)
                if child not in self.worker_names:
                    self.worker_names[child] = _cmdline(child)
        self.samples.append(
            {"t": time.monotonic(), "phase": self.phase, "main": rss, "workers": workers}
        )

    def stop(self) -> None:
        self._halt.set()
        self.join()


# --- driving the bot ----------------------------------------------------------------


def _server_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.1.1:{port}/stats", timeout=10) as resp:
        stats: dict[str, int] = json.load(resp)
        return stats


def _read_until(stream: IO[str], marker: str, deadline: float) -> str:
    out = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise SystemExit("bench: the bot's stdout closed early")
        out.append(line)
        if marker in line:
            return "".join(out)
    raise SystemExit(f"bench: no {marker!r} before the deadline")


def write_config(work: Path, db: Path) -> Path:
    (work / "seeds").mkdir(exist_ok=True)
    config = work / "briefbot.toml"
    config.write_text(
        f"""[bot]
database_url = "sqlite:///{db}"
log_level = "WARNING"

[sources]
seeds_dir = "{work / "seeds"}"
seeds_interval_minutes = 60
poll_interval_minutes = 1
allow_private_networks = true
teaser_chars = 0
global_concurrency = 64
""",
        encoding="utf-8",
    )
    return config


def bot_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_")) and k != "BRIEFBOT_DATABASE_URL"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    db = work / "bench.db"
    for old in work.glob("bench.db*"):  # a kept folder from an earlier run
        old.unlink()
    config = write_config(work, db)
    env = bot_env()
    cmd = [sys.executable, "-m", "bot", "-c", str(config)]
    subprocess.run([*cmd, "feeds", "list"], env=env, check=True, capture_output=True)

    hosts = max(1, min(args.hosts, args.feeds))
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(hosts, args.feeds, DATA, child))
    server.start()
    port = parent.recv()
    result: dict[str, Any] = {"feeds": args.feeds, "articles": args.articles, "hosts": hosts}
    try:
        started = time.monotonic()
        populate(db, args.feeds, args.articles, args.days, port, hosts)
        result["populate_s"] = round(time.monotonic() - started, 1)
        result["db_mb"] = round(db.stat().st_size / 2**20, 1)
        log = (work / "bot.log").open("w", encoding="utf-8")
        bot = subprocess.Popen(
            [*cmd, "run", "--console"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            bufsize=1,
        )
        assert bot.stdin is not None and bot.stdout is not None
        sampler = Sampler(bot.pid)
        sampler.start()
        phase_end: dict[str, dict[str, float]] = {}
        try:
            t0 = time.monotonic()
            deadline = t0 + args.timeout
            _read_until(bot.stdout, "briefbot console", deadline)
            phase_end["startup"] = _phase_summary(sampler, time.monotonic() - t0)
            for cycle in range(1, args.cycles + 1):
                sampler.phase = f"cycle{cycle}"
                c0 = time.monotonic()
                while _server_stats(port)["min"] < cycle:
                    if bot.poll() is not None:
                        raise SystemExit(f"bench: the bot exited ({bot.returncode}); see log")
                    if time.monotonic() > deadline:
                        raise SystemExit(f"bench: cycle {cycle} did not finish in time")
                    time.sleep(1.0)
                time.sleep(2.0)  # the last feeds' articles are stored right after the fetch
                phase_end[f"cycle{cycle}"] = _phase_summary(sampler, time.monotonic() - c0)
            sampler.phase = "briefings"
            b0 = time.monotonic()
            latencies = []
            chars = 0
            for k in range(args.briefings):
                s0 = time.monotonic()
                bot.stdin.write(f"/briefing\n/bench-sync-{k}\n")
                bot.stdin.flush()
                chars += len(_read_until(bot.stdout, f"/bench-sync-{k}", deadline))
                latencies.append(time.monotonic() - s0)
            phase_end["briefings"] = _phase_summary(sampler, time.monotonic() - b0)
            result["briefing_ms_median"] = round(1000 * statistics.median(latencies or [0]), 1)
            result["briefing_ms_max"] = round(1000 * max(latencies or [0]), 1)
            result["briefing_chars_mean"] = round(chars / max(args.briefings, 1))
            sampler.sample()
            bot.stdin.write("quit\n")
            bot.stdin.flush()
            bot.wait(timeout=60)
        finally:
            sampler.stop()
            if bot.poll() is None:
                bot.terminate()
                bot.wait(timeout=30)
            log.close()
        result["phases"] = phase_end
        result.update(_summary(sampler, args.cycles))
        result["bot_exit"] = bot.returncode
    finally:
        parent.send("stop")
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    return result


def _phase_summary(sampler: Sampler, seconds: float) -> dict[str, float]:
    sampler.sample()
    last = sampler.samples[-1] if sampler.samples else {"main": 0, "workers": {}}
    return {
        "seconds": round(seconds, 1),
        "main_rss_mb": round(last["main"] / 1024, 1),
        "workers_rss_mb": round(sum(last["workers"].values()) / 1024, 1),
    }


def _summary(sampler: Sampler, cycles: int) -> dict[str, Any]:
    steady = [s for s in sampler.samples if s["phase"] in (f"cycle{cycles}", "briefings")]
    late = [s for s in sampler.samples if s["phase"] == "briefings"] or steady
    workers_steady = [sum(s["workers"].values()) for s in steady if s["workers"]]
    return {
        "main_peak_mb": round(sampler.main_hwm / 1024, 1),
        "main_steady_mb": round(statistics.median([s["main"] for s in steady] or [0]) / 1024, 1),
        "main_end_mb": round((late[-1]["main"] if late else 0) / 1024, 1),
        "workers": len(sampler.worker_hwm),
        "worker_kinds": sorted(sampler.worker_names.values()),
        "worker_peaks_mb": [round(v / 1024, 1) for v in sampler.worker_hwm.values()],
        "worker_peak_mb": round(max(sampler.worker_hwm.values(), default=0) / 1024, 1),
        "workers_peak_sum_mb": round(sum(sampler.worker_hwm.values()) / 1024, 1),
        "workers_steady_mb": round(statistics.median(workers_steady or [0]) / 1024, 1),
        "samples": len(sampler.samples),
    }


def print_table(r: dict[str, Any]) -> None:
    print(
        f"briefbot run: {r['feeds']} feeds on {r['hosts']} loopback hosts, "
        f"{r['articles']} articles stored (populated in {r['populate_s']} s, db {r['db_mb']} MB)"
    )
    print(f"{'phase':<10} {'seconds':>8} {'main RSS MB':>12} {'workers RSS MB':>15}")
    for name, p in r["phases"].items():
        print(
            f"{name:<10} {p['seconds']:>8.1f} {p['main_rss_mb']:>12.1f} "
            f"{p['workers_rss_mb']:>15.1f}"
        )
    print(
        f"main process: peak {r['main_peak_mb']} MB (VmHWM), steady {r['main_steady_mb']} MB "
        f"(median from the last cycle through the briefings), end {r['main_end_mb']} MB"
    )
    print(
        f"children: {r['workers']} ({', '.join(r['worker_kinds'])}), "
        f"peaks {r['worker_peaks_mb']} MB; "
        f"parse workers peak {r['worker_peak_mb']} MB each at most "
        f"({r['workers_peak_sum_mb']} MB summed), steady {r['workers_steady_mb']} MB together"
    )
    print(
        f"/briefing: median {r['briefing_ms_median']} ms, max {r['briefing_ms_max']} ms, "
        f"{r['briefing_chars_mean']} chars each"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument(
        "--days", type=float, default=30.0, help="stored articles span (retention_days)"
    )
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--briefings", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=100, help="loopback addresses served")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for it all")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("bench: needs Linux /proc", file=sys.stderr)
        return 2
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="briefbot-memory-"))
    try:
        result = run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
