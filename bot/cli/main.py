"""The `briefbot` command. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import ROLES, Settings, load_settings, validate
from bot.errors import BriefbotError, CommandError, ConfigError

log = logging.getLogger("bot")

FORMATS = ("text", "markdown", "json")

RUN_ENVIRONMENT = """\
environment (secrets are read from here only, never from the config file):
  SLACK_BOT_TOKEN        Slack bot token (xoxb-…): starts the Slack adapter
  SLACK_APP_TOKEN        Slack app-level token (xapp-…), for Socket Mode
  SLACK_SIGNING_SECRET   Slack signing secret, for HTTP mode
  SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_REDIRECT_URI
                         multi-workspace OAuth install (HTTP mode)
  DISCORD_TOKEN          Discord bot token: starts the Discord adapter
  BRIEFBOT_DATABASE_URL  overrides [bot] database_url (keeps a password out of the file)
  BRIEFBOT_WEB_TOKEN     access token for the status page and /metrics ([web])
  BRIEFBOT_LLM_API_KEY   key for the optional LLM summaries ([llm] api_key_env)
  names in [webhooks] url_envs
                         webhook URLs, one variable per channel
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="briefbot",
        description="Self-hosted news briefings for Slack, Discord and the terminal. "
        "With no command, `run` starts the bot (the terminal chat when no tokens are set).",
    )
    parser.add_argument("--version", action="version", version=f"briefbot {__version__}")
    parser.add_argument(
        "-c", "--config", type=Path, help="TOML config (default: ./briefbot.toml if present)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="log lines as text or one JSON object per line (default: [bot] log_format)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    brief = sub.add_parser("brief", help="print one briefing and exit")
    brief.add_argument("--seeds", type=Path, help="seed folder (default: [sources] seeds_dir)")
    brief.add_argument("--since", default=None, help="window, e.g. 6h, 2d (default: 24h)")
    brief.add_argument("--topic", default="", help="only stories about these words")
    brief.add_argument("--format", choices=FORMATS, default="text")
    brief.add_argument("--max-stories", type=int, default=None)

    run = sub.add_parser(
        "run",
        help="run the bot: scheduler plus chat adapters (or the terminal chat)",
        description="Run the bot: the scheduler (seed re-reads, feed polling, digests) and "
        "the chat adapters whose tokens are set; with none, the terminal chat.",
        epilog=RUN_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--no-console",
        action="store_true",
        help="service mode: no terminal chat; run until SIGTERM/SIGINT "
        "(the default when stdin is not a terminal, as under systemd or docker)",
    )
    mode.add_argument(
        "--console",
        action="store_true",
        help="the terminal chat even when stdin is not a terminal (when no tokens are set)",
    )
    run.add_argument(
        "--role",
        choices=ROLES,
        default=None,
        help="what this process does when several share one PostgreSQL database "
        '(default: [service] role, "all"); see docs/operations.md',
    )
    check = sub.add_parser("check-config", help="validate the config and environment, then exit")
    check.add_argument(
        "--online",
        action="store_true",
        help="also ask Slack (auth.test) and Discord whether they accept the tokens",
    )
    from bot.cli import admin

    admin.add_parsers(sub)

    feeds = sub.add_parser("feeds", help="manage feeds")
    fsub = feeds.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)
    add = fsub.add_parser("add", help="add a feed (checked against the SSRF guard)")
    add.add_argument("url")
    add.add_argument("--channel", help="also subscribe this channel (platform:channel)")
    lst = fsub.add_parser("list", help="feeds with their health")
    lst.add_argument("--format", choices=("text", "json"), default="text")
    rm = fsub.add_parser("remove", help="remove a feed by URL or id")
    rm.add_argument("feed")
    imp = fsub.add_parser("import", help="add every feed of an OPML file")
    imp.add_argument("file", type=Path)
    fsub.add_parser("export", help="print all feeds as OPML")

    ingest = sub.add_parser("ingest", help="fetch feeds and read the seed folder")
    ingest.add_argument("--once", action="store_true", help="one full cycle, then exit")
    ingest.add_argument("--backfill", type=int, default=None, help="post the latest N of new feeds")

    discord = sub.add_parser("discord", help="Discord helpers")
    dsub = discord.add_subparsers(dest="discord_command", metavar="ACTION", required=True)
    sync = dsub.add_parser("sync", help="register the application commands")
    sync.add_argument("--guild", action="append", default=[], help="a guild id (dev sync)")
    dsub.add_parser("invite", help="print the invite URL with the needed scopes")
    return parser


def _setup_logging(
    verbose: int, settings: Settings | None, quiet: bool, log_format: str | None = None
) -> None:
    from bot.service import logs

    level = logging.WARNING if quiet else logging.INFO
    if settings is not None and not quiet:
        level = getattr(logging, settings.bot.log_level.upper(), logging.INFO)
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
    fmt = log_format or (settings.bot.log_format if settings is not None else "text")
    hooks = tuple(settings.webhooks.url_envs) if settings is not None else ()
    logs.setup(level, fmt, webhook_envs=hooks)


async def _brief(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.core.commands import parse_window
    from bot.core.models import ChannelRef
    from bot.delivery.render_text import render_json, render_markdown, render_text
    from bot.service.core import open_core

    if args.seeds is not None:
        if not args.seeds.is_dir():
            raise ConfigError(f"brief: --seeds {str(args.seeds)!r} is not a folder")
        settings = replace(
            settings, sources=replace(settings.sources, seeds_dir=str(args.seeds.resolve()))
        )
    if args.max_stories is not None and not 1 <= args.max_stories <= 25:
        raise ConfigError("brief: --max-stories must be 1..25")
    window = (
        parse_window(args.since) if args.since else timedelta(hours=settings.briefing.window_hours)
    )
    core = await open_core(settings)
    try:
        report = await core.ingest_seeds()
        for skipped in report.skipped:
            print(f"briefbot: skipped {skipped.path.name}: {skipped.reason}", file=sys.stderr)
        channel = await core.db.channels.channel(ChannelRef("console", "console"))
        briefing = await core.briefings.compose(
            timezone=channel.timezone if channel.timezone != "UTC" else settings.bot.timezone,
            window=window,
            topic=args.topic,
            max_stories=args.max_stories,
        )
    finally:
        await core.close()
    if args.format == "json":
        sys.stdout.write(render_json(briefing))
    elif not briefing.items:
        print(f"Nothing new in the last {args.since or f'{settings.briefing.window_hours:g}h'}.")
    else:
        render = render_markdown if args.format == "markdown" else render_text
        sys.stdout.write(render(briefing))
    return 0


def _console_wanted(args: argparse.Namespace) -> bool:
    """The terminal chat needs a terminal: with stdin from /dev/null (systemd, docker,
    nohup) `run` is a service that waits for SIGTERM instead of reading EOF and exiting."""
    if getattr(args, "no_console", False) or getattr(args, "role", None) not in (None, "all"):
        return False
    return bool(getattr(args, "console", False)) or sys.stdin.isatty()


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.service.runtime import run_bot

    if args.role:
        settings = validate(replace(settings, service=replace(settings.service, role=args.role)))
    await run_bot(settings, console=_console_wanted(args))
    return 0


async def _check_config(settings: Settings, args: argparse.Namespace) -> int:
    from bot.service.runtime import describe_adapters

    print(
        f"config ok: database {settings.database_url.split('://')[0]}, seeds {settings.seeds_path}"
    )
    for line in describe_adapters(settings):
        print(line)
    if getattr(args, "online", False):
        from bot.cli.online import check_online

        async for line in check_online(settings):
            print(line)
    return 0


async def _feeds(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.feeds import feeds_command

    return await feeds_command(settings, args)


async def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.feeds import ingest_command

    return await ingest_command(settings, args)


async def _discord(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import discord as discord_cli

    if args.discord_command == "invite":
        return await discord_cli.invite_command(settings)
    return await discord_cli.sync_command(settings, list(args.guild))


async def _deliveries(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.admin import deliveries_command

    return await deliveries_command(settings, args)


async def _schedules(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.admin import schedules_command

    return await schedules_command(settings, args)


async def _deliver_now(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.admin import deliver_now_command

    return await deliver_now_command(settings, args)


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "brief": _brief,
    "run": _run,
    "check-config": _check_config,
    "feeds": _feeds,
    "ingest": _ingest,
    "discord": _discord,
    "deliveries": _deliveries,
    "schedules": _schedules,
    "deliver-now": _deliver_now,
}


def _terminal_chat() -> bool:
    """`run` with no chat tokens talks in the terminal."""
    import os

    return not (os.environ.get("SLACK_BOT_TOKEN") or os.environ.get("DISCORD_TOKEN"))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    quiet = command in {
        "brief",
        "feeds",
        "check-config",
        "discord",
        "deliveries",
        "schedules",
        "deliver-now",
    }
    if command == "run" and not args.verbose and _terminal_chat() and _console_wanted(args):
        quiet = True  # the terminal is the chat: only warnings between the answers
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        _setup_logging(args.verbose, None, quiet, args.log_format)
        print(f"briefbot: {exc}", file=sys.stderr)
        return 2
    _setup_logging(args.verbose, settings, quiet, args.log_format)
    try:
        return asyncio.run(COMMANDS[command](settings, args))
    except KeyboardInterrupt:
        return 0
    except ConfigError as exc:
        print(f"briefbot: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"briefbot: {exc}", file=sys.stderr)
        return 2
    except BriefbotError as exc:
        print(f"briefbot: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last line of defence: no traceback for users
        log.debug("unexpected failure", exc_info=True)
        print(
            f"briefbot: unexpected {exc.__class__.__name__}: {exc} (run with -vv for details)",
            file=sys.stderr,
        )
        return 1
