"""`briefbot run` as systemd or docker start it: stdin from /dev/null, no bot token, a
webhook channel. It must stay up, post the scheduled digest, answer the operations
endpoints, and exit 0 on SIGTERM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.bot_process import run_child
from tests.support import REPO, discord_webhook


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    async with discord_webhook() as (base, posts):
        yield f"{base}/api/webhooks/1/hook-secret-value", posts


def _config(tmp_path: Path, *, web_enabled: bool, log_format: str = "text") -> Path:
    # A slot two minutes ago: the start-up catch-up posts it (within the 6 h grace).
    due = datetime.now(UTC) - timedelta(minutes=2)
    config = tmp_path / "briefbot.toml"
    config.write_text(
        f"""
[bot]
database_url = "sqlite:///{tmp_path / "bot.db"}"
log_format = "{log_format}"

[sources]
seeds_dir = "{REPO / "seeds"}"

[webhooks]
url_envs = ["HOOK_NEWS"]
schedule = "daily {due:%H:%M}"
timezone = "UTC"

[web]
enabled = {"true" if web_enabled else "false"}
port = 0
""",
        encoding="utf-8",
    )
    return config


async def _until(condition: Any) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - polls a list another task fills
            await asyncio.sleep(0.1)


def _sample(text: str, name: str) -> float:
    """The value of one Prometheus series (``name`` with its labels) in ``text``."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


async def test_service_mode_posts_the_digest_serves_ops_and_stops_on_sigterm(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, posts = hook
    async with run_child(_config(tmp_path, web_enabled=True), HOOK_NEWS=url) as child:
        base = f"http://127.0.0.1:{await child.port_of('web')}/"
        await _until(lambda: len(posts) == 1)
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "healthz") as resp:
                assert resp.status == 200
            async with http.get(base + "readyz") as resp:
                body = await resp.text()
                assert resp.status == 200, body
                assert "scheduler: leader" in body
            async with http.get(base + "metrics") as resp:
                text = await resp.text()
        assert resp.status == 200
        assert _sample(text, 'briefbot_items_ingested_total{result="new"}') >= 1
        assert _sample(text, 'briefbot_digests_total{status="sent"}') == 1
        assert _sample(text, "briefbot_scheduler_leader") == 1
        assert _sample(text, "briefbot_articles") >= 1
        # Still up: service mode does not read EOF from /dev/null and quit.
        await asyncio.sleep(1)
        assert child.proc.returncode is None
        code = await child.stop()
    assert code == 0, "\n".join(child.lines)
    assert "Traceback" not in "\n".join(child.lines)
    assert len(posts) == 1
    assert posts[0]["embeds"], posts[0]


async def test_json_logs_carry_stable_keys_and_no_secret(
    tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    import json

    url, posts = hook
    secrets = {
        "HOOK_NEWS": url,
        "SLACK_SIGNING_SECRET": "signing-secret-not-for-logs",
        "BRIEFBOT_WEB_TOKEN": "web-token-not-for-logs-123",
    }
    config = _config(tmp_path, web_enabled=False, log_format="json")
    async with run_child(config, **secrets) as child:
        await _until(lambda: len(posts) == 1)
        await asyncio.sleep(0.5)
        code = await child.stop()
    assert code == 0
    entries = [json.loads(line) for line in child.lines if line.startswith("{")]
    assert len(entries) == len([line for line in child.lines if line.strip()]), child.lines
    assert all({"ts", "level", "logger", "msg"} <= set(e) for e in entries)
    sent = [e for e in entries if "outbox: sent" in e["msg"]]
    assert sent and sent[0]["delivery_key"].startswith("webhook:")
    assert sent[0]["channel"] == "HOOK_NEWS"
    everything = "\n".join(child.lines)
    assert "hook-secret-value" not in everything
    for value in secrets.values():
        assert value not in everything
