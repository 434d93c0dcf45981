"""`briefbot run` as a real process, against the loopback fakes of Discord and Slack.

Each start-up failure mode runs ``RUNS`` times (default 10): the process must either
exit with code 2 and the documented message within 10 s (a refused token), or keep
serving Slack while Discord is retried with backoff, and stop cleanly on Ctrl-C
(SIGINT). A run that does neither is a hang. Backoff knobs are short here
(``[chat] start_retry_s``), so each run takes a couple of seconds, mostly imports.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.bot_process import HANG_LIMIT_S, run_child, run_command
from tests.fakes.discord_fake import TOKEN as DISCORD_TOKEN
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_api import FakeSlack, form, signed, slash_payload
from tests.support import bot_env

RUNS = int(os.environ.get("BRIEFBOT_RUN_PROCESS_RUNS", "10"))
PARALLEL = int(
    os.environ.get("BRIEFBOT_RUN_PROCESS_PARALLEL", "3")
)  # runs of one mode at a time (two cores; the runs mostly wait)
EXIT_LIMIT_S = 10.0  # from the first log line: the bot is up
SECRET = "process-signing-secret"
SLACK_TOKEN = "xoxb-process-test"
REFUSED_DISCORD = "discord: DISCORD_TOKEN was refused (401)"
REFUSED_SLACK = "slack: SLACK_BOT_TOKEN was refused by auth.test (token_revoked)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Fakes:
    discord: FakeDiscord
    slack: FakeSlack


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    discord = await FakeDiscord().start()
    async with FakeSlack() as slack:
        slack.add_workspace("T1", SLACK_TOKEN)
        try:
            yield Fakes(discord, slack)
        finally:
            await discord.close()


def write_config(
    folder: Path,
    fakes: Fakes,
    *,
    slack_port: int | None,
    discord_api: str | None = None,
    web_port: int | None = None,
    slack_mode: str = "http",
) -> Path:
    seeds = folder / "seeds"
    seeds.mkdir(exist_ok=True)
    lines = [
        "[bot]",
        f'database_url = "sqlite:///{folder / "bot.db"}"',
        "[sources]",
        f'seeds_dir = "{seeds}"',
        "[chat]",
        "start_retry_s = 0.2",
        "start_retry_max_s = 0.8",
        "[discord]",
        f'api_base = "{discord_api or fakes.discord.base_url}"',
        f'gateway_url = "{fakes.discord.gateway_url}"',
    ]
    if slack_port is not None:
        lines += [
            "[slack]",
            f'mode = "{slack_mode}"',
            'host = "127.0.0.1"',
            f"port = {slack_port}",
            f'api_url = "{fakes.slack.api_url}"',
        ]
    if web_port is not None:
        lines += ["[web]", "enabled = true", 'host = "127.0.0.1"', f"port = {web_port}"]
    path = folder / "briefbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def slack_briefing(port: int, fakes: Fakes, name: str) -> None:
    """A signed `/briefing help` into the process's Slack port; Slack must answer it."""
    body = form(slash_payload("help", response_url=fakes.slack.response_url(name)))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(SECRET, body)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r,
    ):
        assert r.status == 200
    await fakes.slack.wait_for(lambda: any(b["_name"] == name for b in fakes.slack.responses), 10)


async def readyz(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def repeat(mode: str, run_one: object) -> list[float]:
    """``RUNS`` runs of one mode, ``PARALLEL`` at a time; returns the seconds per run."""
    assert callable(run_one)
    gate = asyncio.Semaphore(PARALLEL)
    seconds: list[float] = []

    async def one(n: int) -> None:
        async with gate:
            seconds.append(await run_one(n))

    await asyncio.gather(*(one(n) for n in range(RUNS)))
    print(f"{mode}: {RUNS} runs, 0 hangs, slowest {max(seconds):.1f} s")
    return seconds


@pytest.mark.parametrize(
    "slack", ["", "http", "socket"], ids=["discord-only", "slack-http", "slack-socket"]
)
async def test_refused_discord_token_exits_2(tmp_path: Path, fakes: Fakes, slack: str) -> None:
    async def run_one(n: int) -> float:
        folder = tmp_path / f"run{n}"
        folder.mkdir()
        port = 0 if slack else None
        config = write_config(folder, fakes, slack_port=port, slack_mode=slack or "http")
        env = {"DISCORD_TOKEN": "not-the-token"}
        if slack == "http":
            env |= {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SECRET}
        elif slack == "socket":
            env |= {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_APP_TOKEN": fakes.slack.app_token}
        async with run_child(config, **env) as bot:
            code, seconds = await bot.exit_code()
            assert code == 2, bot.log
            assert seconds < EXIT_LIMIT_S, bot.log
            assert REFUSED_DISCORD in bot.log
            assert "Traceback" not in bot.log, bot.log
            assert "not-the-token" not in bot.log
            return seconds

    await repeat(f"discord 401 {slack or 'alone'}", run_one)


@pytest.mark.parametrize("with_slack", [False, True], ids=["discord-only", "with-slack"])
async def test_unreachable_discord_is_retried_and_slack_keeps_serving(
    tmp_path: Path, fakes: Fakes, with_slack: bool
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/v10"  # nothing listens there

    async def run_one(n: int) -> float:
        folder = tmp_path / f"run{n}"
        folder.mkdir()
        any_port = 0 if with_slack else None
        config = write_config(
            folder, fakes, slack_port=any_port, discord_api=closed, web_port=any_port
        )
        env = {"DISCORD_TOKEN": DISCORD_TOKEN}
        if with_slack:
            env |= {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SECRET}
        async with run_child(config, **env) as bot:
            await bot.wait_for_log("discord: cannot reach the API", count=2)  # two attempts logged
            if with_slack:
                port, web = await bot.port_of("slack"), await bot.port_of("web")
                await slack_briefing(port, fakes, f"{tmp_path.name}-{n}")
                ready = await readyz(f"http://127.0.0.1:{web}/readyz")
                assert ready[0] == 503, ready
                assert "- discord: unavailable, retrying: discord: cannot reach the API" in ready[1]
                assert "slack:" not in ready[1]  # Slack is up
                await bot.wait_for_log("discord: cannot reach the API", count=3)  # still retrying
            code, seconds = await bot.interrupt()
            assert code == 0, bot.log
            assert seconds < EXIT_LIMIT_S, bot.log
            assert "Traceback" not in bot.log, bot.log
            assert "retrying in" in bot.log
            return seconds

    await repeat("discord unreachable" + (" + slack" if with_slack else ""), run_one)


async def test_revoked_slack_token_exits_2(tmp_path: Path, fakes: Fakes) -> None:
    fakes.slack.revoked.add(SLACK_TOKEN)

    async def run_one(n: int) -> float:
        folder = tmp_path / f"run{n}"
        folder.mkdir()
        config = write_config(folder, fakes, slack_port=0)
        async with run_child(
            config, SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SECRET
        ) as bot:
            code, seconds = await bot.exit_code()
            assert code == 2, bot.log
            assert seconds < EXIT_LIMIT_S, bot.log
            assert REFUSED_SLACK in bot.log
            assert SLACK_TOKEN not in bot.log
            return seconds

    await repeat("slack token revoked", run_one)
    assert fakes.slack.calls_to("auth.test")  # [slack] api_url reached the fake


async def test_run_serves_slack_through_api_url(tmp_path: Path, fakes: Fakes) -> None:
    """Slack only, pointed at the fake by [slack] api_url: the token is checked there at
    start, a command is answered, and Ctrl-C stops the process cleanly."""
    config = write_config(tmp_path, fakes, slack_port=0)
    async with run_child(config, SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SECRET) as bot:
        port = await bot.port_of("slack")
        assert [c.token for c in fakes.slack.calls_to("auth.test")] == [SLACK_TOKEN]
        await slack_briefing(port, fakes, "api-url")
        [answer] = [b for b in fakes.slack.responses if b["_name"] == "api-url"]
        assert "/briefing subscribe" in str(answer)  # Slack's own syntax in its help
        code, _ = await bot.interrupt()
        assert code == 0, bot.log
        assert "token` will be unused" not in bot.log  # no Bolt warning at start


async def check_config(config: Path, *args: str, **env: str) -> tuple[int, str, str]:
    return await run_command(config, "check-config", *args, env=bot_env(**env))


async def test_check_config_online_checks_the_tokens(tmp_path: Path, fakes: Fakes) -> None:
    config = write_config(tmp_path, fakes, slack_port=0)
    env = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "DISCORD_TOKEN": DISCORD_TOKEN,
    }
    code, out, err = await check_config(config, **env)
    assert code == 0, err
    assert not fakes.slack.calls_to("auth.test")  # plain check-config stays offline
    assert not fakes.discord.calls("GET", "/users/@me")

    code, out, err = await check_config(config, "--online", **env)
    assert code == 0, err
    assert "slack: token ok (team T1" in out and "discord: token ok" in out

    fakes.slack.revoked.add(SLACK_TOKEN)
    code, out, err = await check_config(config, "--online", **env)
    assert code == 2
    assert REFUSED_SLACK in err
    fakes.slack.revoked.clear()

    code, out, err = await check_config(config, "--online", **(env | {"DISCORD_TOKEN": "nope"}))
    assert code == 2
    assert REFUSED_DISCORD in err
    assert SLACK_TOKEN not in out + err and "nope" not in out + err


async def test_readyz_names_the_adapters_once_they_serve(tmp_path: Path, fakes: Fakes) -> None:
    """Both platforms reachable: /readyz says ready with both adapters, once each one
    serves (Slack's server is up, Discord's gateway sent READY)."""
    config = write_config(tmp_path, fakes, slack_port=0, web_port=0)
    async with run_child(
        config,
        DISCORD_TOKEN=DISCORD_TOKEN,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
    ) as bot:
        await bot.port_of("slack")
        web = await bot.port_of("web")
        await fakes.discord.wait_until(lambda: bool(fakes.discord.identifies))
        url = f"http://127.0.0.1:{web}/readyz"
        async with asyncio.timeout(HANG_LIMIT_S):
            while (ready := await readyz(url))[0] != 200:  # noqa: ASYNC110 (an HTTP probe)
                await asyncio.sleep(0.1)  # READY reaches the client just after IDENTIFY
        assert "adapters: discord, slack" in ready[1]
        code, _ = await bot.interrupt()
        assert code == 0, bot.log


async def test_deliver_now_posts_to_slack_through_api_url(tmp_path: Path, fakes: Fakes) -> None:
    """The operator's `deliver-now` builds its own Web API client: [slack] api_url too."""
    config = write_config(tmp_path, fakes, slack_port=0)
    seed = {
        "title": "Ukraine and partners agree on new energy aid for Kyiv",
        "text": "Ukraine secured a new package of energy aid on Tuesday. "
        "Partners pledged transformers and generators before winter.",
        "source": "Wire One",
        "url": "https://wire-one.example/ukraine-energy",
        "published": datetime.now(UTC).isoformat(),
    }
    (tmp_path / "seeds" / "kyiv.json").write_text(json.dumps(seed), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "-c",
        str(config),
        "deliver-now",
        "slack:T1:C1",
        cwd=tmp_path,
        env=bot_env(SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SECRET),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(HANG_LIMIT_S):
        out, err = await proc.communicate()
    assert fakes.slack.calls_to("chat.postMessage"), (proc.returncode, out, err)
    assert all(c.token == SLACK_TOKEN for c in fakes.slack.calls_to("chat.postMessage"))
