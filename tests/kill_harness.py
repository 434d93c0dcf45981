"""The kill test: SIGKILL a real `briefbot run` mid-digest, again and again, and count.

A child ``python -m bot run`` (the real CLI, service mode) posts scheduled digests to the
loopback Slack and Discord fakes of ``tests/fakes`` every few seconds, to three channels
on each platform, one of them in thread mode
(``[delivery] test_digest_every_seconds``, a test-only key). Before each restart this
process stores fresh articles through the real pipeline, so that most digests run to
two or three parts. Then it picks a moment and kills the child:

- ``tick``: just after a slot falls due (claiming, composing, rendering);
- ``send``: inside the fake, once a part is stored but before the bot has the answer;
- ``between``: just after the answer to a part (between parts, or before the next);
- ``mark``: just after the answer to a digest's last part (before it is marked sent).

Where each kill landed is read back from the delivery log and the fakes (claimed but not
rendered, rendered, some parts posted, every part posted but not marked). At the end
the child runs until nothing is pending, then every (channel, slot) the log holds must
be at the fakes exactly once, every part once: ``duplicates`` counts extra copies and
strays, ``lost`` counts slots with a part missing or never finished.

Used by ``tests/test_kill.py`` (a few points per database) and ``bench/kill.py``.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.chat.discord_render import delivery_marker, find_marker
from bot.chat.discord_render import render_digest as discord_digest
from bot.chat.slack_render import render_digest as slack_digest
from bot.config import test_settings
from bot.core import snapshot
from bot.core.models import ArticleDraft, ChannelRef, ChannelSettings
from bot.delivery.outbox import Outbox
from bot.service.core import Core, open_core
from tests.bot_process import BotProcess, run_child
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.discord_fake import TOKEN as DISCORD_TOKEN
from tests.fakes.slack_api import FakeSlack

SLACK_TOKEN = "xoxb-kill-test"
SIGNING_SECRET = "kill-test-signing-secret"
TOKENS = {
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "DISCORD_TOKEN": DISCORD_TOKEN,
}
RUNNING = "briefbot running"  # the child's log line once it serves
SLACK_REFS = tuple(ChannelRef("slack", f"CKILL{n}", "T1") for n in range(3))
DISCORD_REFS = tuple(ChannelRef("discord", str(CHANNEL_ID + n), str(GUILD_ID)) for n in range(3))
THREADED = (SLACK_REFS[2], DISCORD_REFS[2])  # thread mode (`/briefing threads on`)
MAX_STORIES = 25  # Slack: two messages; Discord: three (ten embeds each)
KINDS = ("tick", "send", "between", "mark")
SETTLE_LIMIT_S = 120.0

_SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "te",
    "su",
    "lo",
    "va",
    "ne",
    "di",
    "pa",
    "zu",
    "fe",
    "ri",
    "mo",
    "tal",
    "ven",
    "dor",
    "sik",
    "bar",
    "lun",
]


@dataclass
class KillReport:
    points: int
    slots: int
    duplicates: int
    lost: int
    database: str
    parts: int = 0
    threaded: int = 0  # of the slots, those posted as a header and a thread
    empty: int = 0
    kills: dict[str, int] = field(default_factory=dict)
    landed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def fresh_articles(rng: random.Random, start: int, count: int) -> list[ArticleDraft]:
    """Made-up articles with words of their own, so each one is a story of its own."""
    now = datetime.now(UTC)
    drafts = []
    for n in range(start, start + count):
        words = [_word(rng) for _ in range(12)]
        sentences = [
            f"{words[i].capitalize()} {words[i + 1]} met {words[i + 2]} over {words[i + 3]} "
            f"on day {n}, officials in {words[0].capitalize()} said."
            for i in range(0, 8, 2)
        ]
        drafts.append(
            ArticleDraft(
                source=f"Wire {n % 7}",
                key=f"kill-{n}",
                title=f"{words[0].capitalize()} {words[1]} {words[2]} in story {n}",
                text=" ".join(sentences * 3),
                published_at=now - timedelta(minutes=rng.randint(1, 600)),
                url=f"https://wire.example/{n}",
            )
        )
    return drafts


def write_config(
    folder: Path, database_url: str, slack: FakeSlack, discord: FakeDiscord, every_s: float
) -> Path:
    seeds = folder / "empty-seeds"
    seeds.mkdir(exist_ok=True)
    lines = [
        "[bot]",
        f'database_url = "{database_url}"',
        "[sources]",
        f'seeds_dir = "{seeds}"',
        "seeds_interval_minutes = 60",
        "[briefing]",
        f"max_stories = {MAX_STORIES}",
        "[chat]",
        "start_retry_s = 0.2",
        "start_retry_max_s = 1.0",
        "[slack]",
        'mode = "http"',
        'host = "127.0.0.1"',
        "port = 0",  # any free port: none picked in advance to race for
        f'api_url = "{slack.api_url}"',
        "[discord]",
        f'api_base = "{discord.base_url}"',
        f'gateway_url = "{discord.gateway_url}"',
        "[delivery]",
        f"test_digest_every_seconds = {every_s:g}",
    ]
    path = folder / "kill.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Posted:
    """A digest part as a fake stored it."""

    key: str  # the delivery key (Slack) or the digest of it (Discord)
    part: int
    parts: int


def slack_parts(slack: FakeSlack) -> list[Posted]:
    found = []
    for channel in [*slack.messages.values(), *slack.threads.values()]:
        for message in channel:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if "delivery_key" in payload:
                found.append(
                    Posted(payload["delivery_key"], int(payload["part"]), int(payload["parts"]))
                )
    return found


def discord_parts(discord: FakeDiscord) -> list[Posted]:
    found = []
    for channel in discord.history.values():
        for message in channel:
            marker = _discord_marker(message)
            if marker is not None:
                found.append(Posted(*marker))
    return found


def _discord_marker(message: dict[str, Any]) -> tuple[str, int, int] | None:
    """A digest part's marker: in the last embed's footer, or a thread header's text."""
    texts = [(e.get("footer") or {}).get("text", "") for e in message.get("embeds") or []]
    for text in (message.get("content") or "", *texts):
        marker = find_marker(text)
        if marker is not None:
            return marker
    return None


def fake_key(ref: ChannelRef, slot: str) -> str:
    """How a delivery shows at its fake: Slack keeps the key, Discord's marker a digest."""
    key = Outbox.key(ref, slot)
    if ref.platform == "discord":
        marker = find_marker(delivery_marker(key, 1, 1))
        assert marker is not None
        return marker[0]
    return key


class Kills:
    """Arms one kill at a chosen kind of moment; the fakes call ``on_post``."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.child: BotProcess | None = None
        self.kind = ""
        self._countdown = 0
        self.fired = asyncio.Event()

    def arm(self, child: BotProcess, kind: str) -> None:
        self.child, self.kind, self.fired = child, kind, asyncio.Event()
        self._countdown = self._rng.randint(1, 4)

    def fire(self) -> None:
        if self.child is not None and not self.fired.is_set():
            self.child.kill()
            self.fired.set()

    def on_post(self, part: int, parts: int) -> None:
        if (
            self.child is None
            or self.fired.is_set()
            or self.kind not in ("send", "between", "mark")
        ):
            return
        if self.kind == "mark" and part != parts:
            return
        self._countdown -= 1
        if self._countdown > 0:
            return
        if self.kind == "send":
            self.fire()  # the part is stored; the bot never hears back
        else:
            delay = self._rng.uniform(0.0, 0.03)
            asyncio.get_running_loop().call_later(delay, self.fire)


def _slack_hook(kills: Kills) -> Callable[[dict[str, Any]], None]:
    def hook(message: dict[str, Any]) -> None:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if "part" in payload:
            kills.on_post(int(payload["part"]), int(payload["parts"]))

    return hook


def _discord_hook(kills: Kills) -> Callable[[dict[str, Any]], None]:
    def hook(post: dict[str, Any]) -> None:
        marker = _discord_marker(post)
        if marker is not None:
            kills.on_post(marker[1], marker[2])

    return hook


async def _landed(
    core: Core, slack: FakeSlack, discord: FakeDiscord, refs: dict[int, ChannelRef]
) -> list[str]:
    """Where the kill left each unfinished delivery."""
    at_fakes = collections.Counter(
        (p.key, p.part) for p in slack_parts(slack) + discord_parts(discord)
    )
    phases = []
    for delivery in await core.db.deliveries.unfinished():
        ref = refs[delivery.channel_id]
        key = fake_key(ref, delivery.slot_key)
        posted = sum(1 for (k, _part) in at_fakes if k == key)
        if not delivery.snapshot:
            phases.append("claimed, not yet rendered")
        elif posted == 0:
            phases.append("rendered, nothing posted")
        else:
            parts = _parts_of(delivery.snapshot, ref, delivery.slot_key)
            phases.append(
                "all parts posted, not marked" if posted >= parts else "some parts posted"
            )
    return phases


def _parts_of(frozen: str, ref: ChannelRef, slot: str) -> int:
    briefing = snapshot.loads(frozen)
    if ref.platform == "slack":
        return len(slack_digest(briefing))
    return len(discord_digest(briefing, Outbox.key(ref, slot)))


async def _settled(core: Core, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not await core.db.deliveries.unfinished():
            return True
        await asyncio.sleep(0.5)
    return False


async def _verify(
    core: Core,
    slack: FakeSlack,
    discord: FakeDiscord,
    refs: dict[int, ChannelRef],
    report: KillReport,
) -> None:
    at_fakes = collections.Counter(
        (p.key, p.part) for p in slack_parts(slack) + discord_parts(discord)
    )
    expected: set[str] = set()
    for delivery in await core.db.deliveries.listing(limit=1_000_000):
        ref = refs[delivery.channel_id]
        key = fake_key(ref, delivery.slot_key)
        expected.add(key)
        if delivery.status == "empty" or (delivery.status == "sent" and not delivery.message_ids):
            report.empty += 1
            continue
        if delivery.status != "sent":
            report.lost += 1
            report.problems.append(f"{key}: ended {delivery.status} ({delivery.last_error})")
            continue
        report.slots += 1
        report.threaded += ref in THREADED
        parts = len(delivery.message_ids)
        report.parts += parts
        for part in range(1, parts + 1):
            copies = at_fakes.get((key, part), 0)
            if copies == 0:
                report.lost += 1
                report.problems.append(f"{key}: part {part}/{parts} missing")
            elif copies > 1:
                report.duplicates += copies - 1
                report.problems.append(f"{key}: part {part}/{parts} posted {copies} times")
    for (key, part), copies in at_fakes.items():
        if key not in expected:
            report.duplicates += copies
            report.problems.append(f"{key}: part {part} posted but not in the delivery log")


async def run(
    database_url: str,
    database: str,
    workdir: Path,
    *,
    points: int,
    seed: int = 1,
    every_s: float = 3.0,
    progress: Callable[[str], None] | None = None,
) -> KillReport:
    """Kill a real `briefbot run` ``points`` times; the counts of what reached the fakes."""
    rng = random.Random(seed)
    started = time.monotonic()
    report = KillReport(points=0, slots=0, duplicates=0, lost=0, database=database)
    kills = Kills(rng)
    discord = await FakeDiscord().start()
    discord.on_post = _discord_hook(kills)
    settings = test_settings(workdir, bot={"database_url": database_url})
    core = await open_core(settings)
    try:
        async with FakeSlack() as slack:
            slack.add_workspace("T1", SLACK_TOKEN)
            slack.on_post = _slack_hook(kills)
            for ref in SLACK_REFS + DISCORD_REFS:
                threads = ref in THREADED  # a header, then the stories in its thread
                await core.db.channels.save_channel(
                    ChannelSettings(
                        ref, schedule="0 8 * * *", max_stories=MAX_STORIES, threads=threads
                    )
                )
            refs = await core.db.channels.refs_by_id()
            config = write_config(workdir, database_url, slack, discord, every_s)
            next_article = 0
            for point in range(1, points + 1):
                # The child is dead: this process stores the next batch of news.
                await core.pipeline.ingest("kill", fresh_articles(rng, next_article, 60))
                next_article += 60
                async with run_child(config, "--no-console", **TOKENS) as child:
                    await child.wait_for_log(RUNNING)
                    kind = rng.choice(KINDS)
                    kills.arm(child, kind)
                    if kind == "tick":
                        now = time.time()
                        due = (now // every_s + 1) * every_s
                        delay = due - now + rng.uniform(0.0, 0.4)
                        asyncio.get_running_loop().call_later(delay, kills.fire)
                    try:
                        await asyncio.wait_for(kills.fired.wait(), 4 * every_s + 10)
                    except TimeoutError:
                        kind = "idle"  # nothing to post in time: kill anyway
                        kills.fire()
                    await child.reap()
                report.points += 1
                report.kills[kind] = report.kills.get(kind, 0) + 1
                for phase in await _landed(core, slack, discord, refs):
                    report.landed[phase] = report.landed.get(phase, 0) + 1
                if progress is not None:
                    progress(f"{database}: point {point}/{points} ({kind})")
            # Drain: schedules off (no new slots), then a last child resumes everything
            # pending and is stopped as a service is stopped.
            for ref in SLACK_REFS + DISCORD_REFS:
                settings = await core.db.channels.channel(ref)
                await core.db.channels.save_channel(replace(settings, schedule=None))
            async with run_child(config, "--no-console", **TOKENS) as final:
                await final.wait_for_log(RUNNING)
                if not await _settled(core, SETTLE_LIMIT_S):
                    report.problems.append("deliveries still pending after the last restart")
                code = await final.stop(limit_s=30)
            if code != 0:
                report.problems.append(f"the last run exited {code}:\n{final.tail()}")
            await _verify(core, slack, discord, refs, report)
    finally:
        await core.close()
        await discord.close()
    report.seconds = round(time.monotonic() - started, 1)
    return report
