"""`briefbot run`: the core, the scheduler and every configured chat adapter on one loop.

With no tokens in the environment this is the embedded default: SQLite, the seed
folder, and a chat in the terminal. Adapters for Slack and Discord start when their
tokens are present (see README: "Connecting Slack" / "Connecting Discord").
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import suppress
from datetime import timedelta
from typing import Any

import aiohttp

from bot.chat.console import ConsoleHarness, run_repl
from bot.chat.webhook_channels import apply_schedule, webhook_channels
from bot.config import Settings
from bot.core.models import Briefing, ChannelRef
from bot.core.ports import Publisher
from bot.delivery.outbox import Outbox
from bot.delivery.render_text import render_text
from bot.errors import ConfigError
from bot.service import heap
from bot.service.core import Core, open_core
from bot.service.grouping import GroupingStage
from bot.service.ops import ProcessProbes, status_snapshot, web_options
from bot.service.scheduler import Scheduler
from bot.service.stop import run_until_stopped
from bot.service.supervisor import Backoff, Supervisor
from bot.sources.poll import parse_pool
from bot.store.leader import Leadership
from bot.web.server import WebServer, build_app
from bot.web.status import status_page

log = logging.getLogger(__name__)

#: How long the first resume waits for the chat adapters to connect.
ADAPTERS_READY_WAIT_S = 30.0


class ConsolePublisher:
    """Scheduled digests for console channels go to the terminal."""

    platform = "console"

    async def notify(self, ref: ChannelRef, text: str) -> None:
        sys.stdout.write(f"\n{text}\n")
        sys.stdout.flush()

    async def publish(self, ref: ChannelRef, briefing: Briefing, delivery_key: str) -> list[str]:
        sys.stdout.write("\n" + render_text(briefing))
        sys.stdout.flush()
        return [delivery_key]


class ChannelNotifier:
    """Feed-health notices through whichever publisher serves the channel's platform."""

    def __init__(self, publishers: dict[str, Publisher]) -> None:
        self._publishers = publishers

    async def notify(self, ref: ChannelRef, text: str) -> None:
        publisher = self._publishers.get(ref.platform)
        notify = getattr(publisher, "notify", None)
        if notify is None:
            log.info("feed health: no notices on platform=%s", ref.platform)
            return
        await notify(ref, text)


def slack_configured(settings: Settings) -> bool:
    return settings.slack.enabled or bool(os.environ.get("SLACK_BOT_TOKEN"))


def discord_configured(settings: Settings) -> bool:
    return settings.discord.enabled or bool(os.environ.get("DISCORD_TOKEN"))


def describe_adapters(settings: Settings) -> Iterator[str]:
    """What `run` would start; raises ConfigError when a platform lacks its secrets."""
    if slack_configured(settings):
        from bot.chat.slack import SlackOptions

        options = SlackOptions.from_env(settings)
        yield f"slack: {options.mode} mode"
    if discord_configured(settings):
        from bot.chat.discord import DiscordOptions

        DiscordOptions.from_env(settings)
        yield "discord: gateway"
    for name in settings.webhooks.url_envs:
        if not os.environ.get(name):
            raise ConfigError(f"config: [webhooks] url_envs names {name}, which is not set")
        yield f"webhook: {name} ({settings.webhooks.schedule} {settings.webhooks.timezone})"
    if not slack_configured(settings) and not discord_configured(settings):
        yield "chat: terminal (no SLACK_BOT_TOKEN or DISCORD_TOKEN set)"
    if settings.web.enabled:
        web = web_options(settings)
        guarded = ", token required" if web.token else ""
        yield f"web: http://{web.host}:{web.port}/{guarded}"


async def _start_platforms(
    core: Core, settings: Settings, publishers: dict[str, Publisher]
) -> list[tuple[str, Callable[[Callable[[], None]], Coroutine[Any, Any, None]]]]:
    """Start Slack/Discord when configured; returns their named runners."""
    runners: list[tuple[str, Callable[[Callable[[], None]], Coroutine[Any, Any, None]]]] = []
    if slack_configured(settings):
        from bot.chat.slack import SlackOptions, build_slack_app, run_slack
        from bot.chat.slack_render import SlackPublisher

        slack_options = SlackOptions.from_env(settings)
        app = build_slack_app(core.router, slack_options)
        publishers["slack"] = SlackPublisher(app.client, app.installation_store)

        async def slack_runner(ready: Callable[[], None]) -> None:
            await run_slack(app, slack_options, on_ready=ready)

        runners.append(("slack", slack_runner))
    if discord_configured(settings):
        from bot.chat.discord import DiscordOptions, build_discord_client, run_discord
        from bot.chat.discord_render import DiscordPublisher

        discord_options = DiscordOptions.from_env(settings)
        client = build_discord_client(core.router, discord_options, feeds=core.subscriptions)
        publishers["discord"] = DiscordPublisher(client)

        async def discord_runner(ready: Callable[[], None]) -> None:
            await run_discord(client, discord_options, on_ready=ready)

        runners.append(("discord", discord_runner))
    return runners


def duties(role: str) -> tuple[bool, bool, bool]:
    """What a process of ``role`` does: (polls feeds, may lead, runs chat adapters)."""
    return role in ("all", "worker"), role in ("all", "scheduler"), role != "worker"


async def run_bot(settings: Settings, *, console: bool = True) -> None:
    """Run until the adapters end, the terminal chat ends, or SIGTERM/SIGINT (service mode).

    ``[service] role`` picks the duties: feed polling, leading (digests, story grouping,
    pruning) and the chat adapters; "all" does everything, as one process should.
    """
    # Fail on missing secrets before opening anything.
    list(describe_adapters(settings))
    service = settings.service
    polls, leads, chats = duties(service.role)
    heap.tune()
    core = await open_core(settings)
    leadership = Leadership(core.db.engine)
    # One grouper for the whole deployment, the leader's; on PostgreSQL it groups each
    # settled feed cycle at once (bot/service/grouping.py).
    core.pipeline.owns_grouping = lambda: leadership.is_leader
    core.pipeline.inline_grouping = core.db.engine.dialect.name != "postgresql"
    grouping = GroupingStage(
        core.db,
        core.pipeline,
        lambda: leadership.is_leader,
        max_wait=timedelta(seconds=service.grouping_max_wait_s),
    )
    scheduler: Scheduler | None = None
    supervisor = Supervisor(Backoff(settings.chat.start_retry_s, settings.chat.start_retry_max_s))
    web_server: WebServer | None = None
    session = aiohttp.ClientSession()
    pool = parse_pool()  # workers start on the first feed that needs parsing
    try:
        await core.add_configured_feeds()
        publishers: dict[str, Publisher] = {"console": ConsolePublisher()}
        runners = await _start_platforms(core, settings, publishers) if chats else []
        if settings.webhooks.url_envs and leads:
            hooks = webhook_channels(settings.webhooks, session)
            publishers["webhook"] = hooks
            await apply_schedule(hooks, settings.webhooks, core.db.channels)

        async def briefing_for(ref: ChannelRef, seen: set[int]) -> Briefing:
            return await core.briefing_for(ref, exclude=seen, remember=True)

        outbox = Outbox(core.db, publishers, briefing_for)
        if leads:
            await leadership.try_acquire()
        scheduler = Scheduler(
            outbox,
            leader=leadership.is_leader,
            test_every_seconds=settings.delivery.test_digest_every_seconds,
        )
        if polls:
            await core.ingest_seeds()  # before the first command can ask for a briefing
            scheduler.every(
                "seeds", settings.sources.seeds_interval_minutes, core.ingest_seeds, start_now=False
            )
            feeds = core.feed_ingest(pool)
            feeds.health.notifier = ChannelNotifier(publishers)

            async def poll_feeds() -> None:
                try:
                    await feeds.run_once()
                finally:  # a cycle's bodies are freed now: give the pages back
                    await asyncio.get_running_loop().run_in_executor(core.executor, heap.release)

            scheduler.every("feeds", service.poll_check_s / 60, poll_feeds)
        active_scheduler = scheduler

        async def lead() -> None:
            """Only the leader posts digests: resume what a crash left pending, then
            post a slot missed while no process led (within the grace)."""
            await outbox.resume(await core.db.channels.refs_by_id())
            await active_scheduler.reconcile(await core.db.channels.scheduled())

        async def take_over() -> None:
            if active_scheduler.leader:  # schedules set through another process
                await active_scheduler.sync(await core.db.channels.scheduled())
                return
            await active_scheduler.contend(leadership.try_acquire, lead)

        if leads:
            scheduler.every("prune", 6 * 60.0, core.prune)
            scheduler.every("leadership", service.leader_check_s / 60, take_over, start_now=False)
            scheduler.every("grouping", service.grouping_check_s / 60, grouping.run_once)
        core.schedule_hooks.append(scheduler.channel_changed)
        scheduler.start()
        probes = ProcessProbes(core, leadership)
        if settings.web.enabled:
            options = web_options(settings)
            page = status_page(status_snapshot(core))
            app = build_app(probes, token=options.token, status_page=page)
            web_server = WebServer(app, options)
            await web_server.start()
        for name, runner in runners:
            probes.report(name, "starting")
            # /readyz names an adapter that is down while the supervisor retries it.
            supervisor.adapter(name, runner, on_problem=probes.report)

        async def catch_up() -> None:
            # After the adapters serve (a resumed post needs a connected client); an
            # adapter still down after a while gets its posts retried by the outbox.
            if not leads or not active_scheduler.leader:
                return
            await probes.adapters_ready(ADAPTERS_READY_WAIT_S, supervisor.stopping)
            if supervisor.stopping.is_set():
                return
            try:
                await lead()
            except Exception:
                log.exception("scheduler: catching up on digests failed")

        supervisor.background("catch-up", catch_up())
        if runners:
            log.info("briefbot running; Ctrl-C to stop")
            await run_until_stopped(supervisor.wait(), signals=(signal.SIGTERM,))
        elif console and service.role == "all":
            repl = run_repl(ConsoleHarness(core.router, settings.chat.console_channel))
            await run_until_stopped(repl, signals=(signal.SIGTERM,))
        else:
            log.info("briefbot running as a service (no terminal chat); SIGTERM or Ctrl-C stops it")
            await run_until_stopped(None, signals=(signal.SIGTERM, signal.SIGINT))
    finally:
        # Scheduler, then every task, then the adapters: all awaited before the store closes.
        await supervisor.shutdown(scheduler)
        if web_server is not None:
            await web_server.stop()
        with suppress(Exception):
            await leadership.release()
        await session.close()
        pool.shutdown(wait=False, cancel_futures=True)
        await core.close()
