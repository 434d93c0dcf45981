"""`briefbot feeds …` and `briefbot ingest`: feed management from the shell."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.config import Settings
from bot.core.feed_added import describe_added
from bot.core.models import ChannelRef, FeedInfo
from bot.errors import CommandError, ConfigError
from bot.service.core import Core, open_core
from bot.sources.opml import OpmlFeed, export_opml, parse_opml


def _channel_ref(value: str) -> ChannelRef:
    """``slack:T123:C456``, ``discord:GUILD:CHANNEL``, ``console:NAME`` or a bare id;
    ``slack:T123:dm:U789`` is a user's personal digest."""
    parts = value.split(":")
    if len(parts) == 1:
        return ChannelRef("console", parts[0])
    platform = parts[0]
    if platform not in {"console", "slack", "discord", "webhook"}:
        raise ConfigError(f"feeds: --channel platform must be console, slack or discord: {value!r}")
    if len(parts) == 2:
        return ChannelRef(platform, parts[1])  # type: ignore[arg-type]
    if parts[1] == "dm":  # a personal digest set outside any workspace: discord:dm:<user>
        return ChannelRef(platform, ":".join(parts[1:]))  # type: ignore[arg-type]
    # a personal digest's channel is itself `dm:<user>`
    return ChannelRef(platform, ":".join(parts[2:]), parts[1])  # type: ignore[arg-type]


def _iso(feed: FeedInfo) -> str | None:
    return feed.last_fetch.isoformat() if feed.last_fetch else None


def _print_feeds(feeds: list[FeedInfo], fmt: str) -> None:
    if fmt == "json":
        rows = [
            {
                "url": f.url,
                "title": f.title,
                "items": f.items,
                "last_fetch": _iso(f),
                "last_error": f.last_error,
            }
            for f in feeds
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not feeds:
        print("No feeds yet. Add one: briefbot feeds add https://example.com/feed.xml")
        return
    for f in feeds:
        health = (
            f"error: {f.last_error}"
            if f.last_error
            else (
                f"last fetch {f.last_fetch:%Y-%m-%d %H:%M} UTC" if f.last_fetch else "never fetched"
            )
        )
        title = f" ({f.title})" if f.title else ""
        print(f"{f.id:>4}  {f.url}{title}  items={f.items}  {health}")


async def feeds_command(settings: Settings, args: argparse.Namespace) -> int:
    core = await open_core(settings)
    try:
        return await _feeds(core, args)
    finally:
        await core.close()


async def _feeds(core: Core, args: argparse.Namespace) -> int:
    action = args.feeds_command
    subs = core.subscriptions
    if action == "add":
        try:
            added = await subs.add_feed(args.url)
        except CommandError as exc:
            print(f"briefbot: {exc}", file=sys.stderr)
            return 1  # refused: nothing was stored
        if args.channel:
            await core.db.channels.subscribe(_channel_ref(args.channel), added.feed.id)
        print(describe_added(added))
        return 0
    if action == "list":
        _print_feeds(list(await subs.feeds()), args.format)
        return 0
    if action == "remove":
        feed = await subs.remove_feed(args.feed)
        print(f"removed: [{feed.id}] {feed.url}")
        return 0
    if action == "import":
        return await _import(core, args.file)
    feeds = await subs.feeds()
    sys.stdout.write(export_opml([OpmlFeed(url=f.url, title=f.title) for f in feeds]))
    return 0


async def _import(core: Core, path: Path) -> int:
    try:
        entries = parse_opml(await asyncio.to_thread(path.read_bytes))
    except OSError as exc:
        raise ConfigError(f"feeds: cannot read {path}: {exc.strerror}") from None
    added = present = refused = 0
    for entry in entries:
        try:
            result = await core.subscriptions.add_feed(entry.url)
        except CommandError as exc:
            refused += 1
            print(f"refused: {exc}", file=sys.stderr)
            continue
        created = result.created
        print(describe_added(result))
        added, present = added + created, present + (not created)
    print(f"import: {added} added, {present} already present, {refused} refused")
    return 0 if not refused else 1


def _progress_bar(done: int, total: int) -> None:
    if not sys.stderr.isatty() or total == 0:
        return
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} feeds")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


async def ingest_command(settings: Settings, args: argparse.Namespace) -> int:
    if not args.once:
        raise ConfigError(
            "ingest: use `briefbot ingest --once` (`briefbot run` polls on a schedule)"
        )
    if args.backfill is not None and args.backfill < 0:
        raise ConfigError("ingest: --backfill must be >= 0")
    from bot.sources.poll import parse_pool

    core = await open_core(settings)
    pool = parse_pool()
    try:
        await core.add_configured_feeds()
        seeds = await core.ingest_seeds()
        print(str(seeds), file=sys.stderr)
        report = await core.feed_ingest(pool).run_once(
            backfill=args.backfill, progress=_progress_bar
        )
    finally:
        pool.shutdown(cancel_futures=True)
        await core.close()
    for url, error in report.errors:
        print(f"  {url}: {error}", file=sys.stderr)
    print(str(report))
    return 0
