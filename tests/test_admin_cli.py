"""The operator's commands, run as the real CLI: `deliver-now` posts through the outbox
to a loopback webhook, `deliveries` shows what happened (failures with their reason),
and `schedules` shows the next digest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.bot_process import run_command
from tests.support import REPO, bot_env, serve_app


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    posts: list[dict[str, Any]] = []

    async def good(request: web.Request) -> web.Response:
        posts.append(await request.json())
        return web.json_response({"id": str(1000 + len(posts))})

    async def gone(_request: web.Request) -> web.Response:
        return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)

    app = web.Application()
    app.router.add_post("/api/webhooks/1/good", good)
    app.router.add_post("/api/webhooks/2/gone", gone)
    async with serve_app(app) as base:
        yield base, posts


async def _cli(tmp_path: Path, base: str, *args: str) -> tuple[int, str, str]:
    config = tmp_path / "briefbot.toml"
    config.write_text(
        f'[bot]\ndatabase_url = "sqlite:///{tmp_path / "bot.db"}"\n'
        f'[sources]\nseeds_dir = "{REPO / "seeds"}"\n'
        '[webhooks]\nurl_envs = ["HOOK_NEWS", "HOOK_GONE"]\n'
        'schedule = "weekdays 08:00"\ntimezone = "Europe/Berlin"\n',
        encoding="utf-8",
    )
    env = bot_env(HOOK_NEWS=f"{base}/api/webhooks/1/good", HOOK_GONE=f"{base}/api/webhooks/2/gone")
    return await run_command(config, *args, env=env, limit_s=120)


async def test_deliver_now_posts_once_and_deliveries_show_it(
    tmp_path: Path, hooks: tuple[str, list[dict[str, Any]]]
) -> None:
    base, posts = hooks
    code, out, err = await _cli(tmp_path, base, "deliver-now", "webhook:HOOK_NEWS")
    assert code == 0, err
    assert "webhook:HOOK_NEWS slot manual-" in out
    assert ": sent, 1 message(s)" in out
    assert len(posts) == 1 and posts[0]["embeds"]
    code, out, err = await _cli(tmp_path, base, "deliveries", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["channel"], r["status"], r["parts"]) for r in rows] == [
        ("webhook:HOOK_NEWS", "sent", 1)
    ]
    assert rows[0]["slot"].startswith("manual-")
    code, out, _ = await _cli(tmp_path, base, "deliveries", "--failed")
    assert (code, out.strip()) == (0, "no failed deliveries")


async def test_a_failed_delivery_is_listed_with_its_reason(
    tmp_path: Path, hooks: tuple[str, list[dict[str, Any]]]
) -> None:
    base, posts = hooks
    code, _out, err = await _cli(tmp_path, base, "deliver-now", "webhook:HOOK_GONE")
    assert code == 1
    assert ": dead, 0 message(s): webhook:" in err
    assert "schedule is paused" in err
    assert posts == []
    code, out, err = await _cli(tmp_path, base, "deliveries", "--failed", "--format", "json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["channel"] == "webhook:HOOK_GONE"
    assert row["status"] == "dead"
    assert "404" in row["error"]
    assert "api/webhooks/2/gone" not in out  # the webhook URL is a secret
    code, out, _ = await _cli(
        tmp_path, base, "deliveries", "--channel", "webhook:HOOK_NEWS", "--format", "json"
    )
    assert (code, json.loads(out)) == (0, [])  # known (configured), nothing posted yet
    code, _out, err = await _cli(tmp_path, base, "deliveries", "--channel", "slack:T1:C9")
    assert code == 2
    assert "no channel 'slack:T1:C9'" in err


async def test_schedules_show_the_next_digest_in_the_channel_zone(
    tmp_path: Path, hooks: tuple[str, list[dict[str, Any]]]
) -> None:
    base, _ = hooks
    # The webhook channels get their schedule when they are first used.
    await _cli(tmp_path, base, "deliver-now", "webhook:HOOK_NEWS")
    code, out, err = await _cli(tmp_path, base, "schedules", "--format", "json")
    assert code == 0, err
    entries = {e["channel"]: e for e in json.loads(out)}
    news = entries["webhook:HOOK_NEWS"]
    assert news["schedule"] == "weekdays at 08:00"
    assert news["timezone"] == "Europe/Berlin"
    assert news["next_digest"].endswith(("+01:00", "+02:00"))
    assert "T08:00:00" in news["next_digest"]
    assert news["paused"] is None


async def test_a_dead_channel_is_paused_and_skipped_by_the_schedule(
    tmp_path: Path, hooks: tuple[str, list[dict[str, Any]]]
) -> None:
    base, _ = hooks
    await _cli(tmp_path, base, "deliver-now", "webhook:HOOK_GONE")
    code, out, err = await _cli(tmp_path, base, "schedules", "--format", "json")
    assert code == 0, err
    gone = {e["channel"]: e for e in json.loads(out)}["webhook:HOOK_GONE"]
    assert "HTTP 404" in gone["paused"]
    assert gone["next_digest"] is None
    code, out, _ = await _cli(tmp_path, base, "schedules")
    assert "webhook:HOOK_GONE: weekdays at 08:00 Europe/Berlin — PAUSED: webhook:" in out
