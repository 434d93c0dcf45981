"""Operator commands: what was delivered, what is scheduled, and a digest on demand.

`briefbot deliveries` answers "did the 08:00 digest go out, and if not, why?";
`briefbot schedules` "when is the next one?"; `briefbot deliver-now REF` posts one now,
through the outbox, so it is logged and never doubled like any scheduled digest.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.core.models import Briefing, ChannelRef
from bot.core.schedule import describe
from bot.errors import ConfigError

if TYPE_CHECKING:  # the commands import the heavy parts only when they run
    import aiohttp

    from bot.core.ports import Publisher
    from bot.service.core import Core


def add_parsers(sub: Any) -> None:
    deliveries = sub.add_parser("deliveries", help="recent digest deliveries and their status")
    deliveries.add_argument("--failed", action="store_true", help="only failed or dead ones")
    deliveries.add_argument("--channel", help="only this channel (platform:workspace:channel)")
    deliveries.add_argument("--limit", type=int, default=50)
    deliveries.add_argument("--format", choices=("text", "json"), default="text")
    schedules = sub.add_parser("schedules", help="channels with a digest schedule")
    schedules.add_argument("--format", choices=("text", "json"), default="text")
    now = sub.add_parser("deliver-now", help="post a channel's digest now, through the outbox")
    now.add_argument("channel", help="platform:workspace:channel, e.g. webhook:HOOK_NEWS")


@dataclass(frozen=True)
class DeliveryLine:
    channel: str
    slot: str
    status: str
    parts: int
    attempts: int
    updated_at: str | None
    error: str | None


def _ref_text(ref: ChannelRef) -> str:
    return ":".join(p for p in (ref.platform, ref.workspace, ref.channel) if p)


async def deliveries_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli.feeds import _channel_ref
    from bot.service.core import open_core

    core = await open_core(settings)
    try:
        refs = await core.db.channels.refs_by_id()
        channel_id = None
        if args.channel:
            wanted = _channel_ref(args.channel)
            matches = [i for i, ref in refs.items() if ref == wanted]
            if not matches:
                raise ConfigError(f"deliveries: no channel {args.channel!r} is known")
            channel_id = matches[0]
        rows = await core.db.deliveries.listing(
            failed_only=args.failed, channel_id=channel_id, limit=max(1, args.limit)
        )
    finally:
        await core.close()
    lines = [
        DeliveryLine(
            channel=_ref_text(refs[d.channel_id]) if d.channel_id in refs else str(d.channel_id),
            slot=d.slot_key,
            status=d.status,
            parts=len(d.message_ids),
            attempts=d.attempts,
            updated_at=d.updated_at.astimezone(UTC).isoformat() if d.updated_at else None,
            error=d.last_error,
        )
        for d in rows
    ]
    if args.format == "json":
        print(json.dumps([asdict(line) for line in lines], indent=2))
        return 0
    if not lines:
        print("no failed deliveries" if args.failed else "no deliveries yet")
        return 0
    for line in lines:
        error = f" — {line.error}" if line.error else ""
        print(
            f"{line.slot}  {line.channel}  {line.status}, {line.parts} part(s), "
            f"{line.attempts} attempt(s){error}"
        )
    return 0


async def schedules_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.service.core import open_core
    from bot.service.local_cron import next_digest

    core = await open_core(settings)
    try:
        refs = await core.db.channels.refs_by_id()
        by_ref = {ref: i for i, ref in refs.items()}
        scheduled = await core.db.channels.scheduled(include_paused=True)
    finally:
        await core.close()
    now = datetime.now(UTC)
    entries = []
    for channel in scheduled:
        assert channel.schedule is not None
        upcoming = (
            None if channel.paused_reason else next_digest(channel.schedule, channel.timezone, now)
        )
        entries.append(
            {
                "id": by_ref.get(channel.ref),
                "channel": _ref_text(channel.ref),
                "schedule": describe(channel.schedule),
                "cron": channel.schedule,
                "timezone": channel.timezone,
                "next_digest": None
                if channel.paused_reason or not upcoming
                else upcoming.isoformat(),
                "paused": channel.paused_reason,
            }
        )
    if args.format == "json":
        print(json.dumps(entries, indent=2))
        return 0
    if not entries:
        print("no channel has a digest schedule (set one with /briefing schedule …)")
        return 0
    for e in entries:
        when = f"PAUSED: {e['paused']}" if e["paused"] else f"next {e['next_digest']}"
        print(f"{e['channel']}: {e['schedule']} {e['timezone']} — {when}")
    return 0


async def _publisher_for(ref: ChannelRef, core: Core, session: aiohttp.ClientSession) -> Publisher:
    """A publisher for one channel, built from the environment's tokens."""
    settings = core.settings
    if ref.platform == "webhook":
        from bot.chat.webhook_channels import apply_schedule, webhook_channels

        hooks = webhook_channels(settings.webhooks, session)
        await apply_schedule(hooks, settings.webhooks, core.db.channels)
        return hooks
    if ref.platform == "console":
        from bot.service.runtime import ConsolePublisher

        return ConsolePublisher()
    if ref.platform == "slack":
        token = os.environ.get("SLACK_BOT_TOKEN")
        if not token:
            raise ConfigError("deliver-now: a Slack channel needs SLACK_BOT_TOKEN")
        from bot.chat.slack_client import web_client
        from bot.chat.slack_render import SlackPublisher

        return SlackPublisher(web_client(settings.slack.api_url, token))  # [slack] api_url
    raise ConfigError(
        f"deliver-now: {ref.platform} channels are posted by the running bot; "
        "use /briefing in the channel, or wait for its schedule"
    )


async def deliver_now_command(settings: Settings, args: argparse.Namespace) -> int:
    import aiohttp

    from bot.cli.feeds import _channel_ref
    from bot.delivery.outbox import Outbox
    from bot.service.core import open_core

    ref = _channel_ref(args.channel)
    core = await open_core(settings)
    try:
        await core.ingest_seeds()
        async with aiohttp.ClientSession() as session:
            publisher = await _publisher_for(ref, core, session)

            async def briefing_for(channel: ChannelRef, seen: set[int]) -> Briefing:
                return await core.briefing_for(channel, exclude=seen, remember=True)

            outbox = Outbox(core.db, {ref.platform: publisher}, briefing_for, max_attempts=3)
            slot = "manual-" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            result = await outbox.deliver(ref, slot, manual=True)
    finally:
        await core.close()
    detail = f": {result.error}" if result.error else ""
    print(
        f"deliver-now: {_ref_text(ref)} slot {slot}: {result.status}, "
        f"{len(result.message_ids)} message(s){detail}",
        file=sys.stderr if result.status in {"failed", "dead"} else sys.stdout,
    )
    if result.status == "dead":
        print(
            "deliver-now: the channel's schedule is paused; fix access, then set the "
            "schedule again (/briefing schedule …)",
            file=sys.stderr,
        )
    return 1 if result.status in {"failed", "dead"} else 0
