"""The supervisor's contract, in-process: start-up failures classified against the
loopback fakes, retries with backoff, and the order of shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.chat.discord_login import REFUSED, check_token
from bot.chat.slack_client import check_token as slack_check
from bot.chat.slack_client import web_client
from bot.chat.startup import Unavailable
from bot.errors import ConfigError
from bot.service.supervisor import Backoff, Supervisor, keep_trying, settle
from tests.fakes.discord_fake import TOKEN, FakeDiscord
from tests.fakes.slack_api import FakeSlack


async def test_discord_login_check_classifies_the_answers() -> None:
    fake = await FakeDiscord().start()
    try:
        await discord_answers(fake)
    finally:
        await fake.close()


async def discord_answers(fake: FakeDiscord) -> None:
    await check_token(TOKEN, fake.base_url)  # accepted
    with pytest.raises(ConfigError, match=r"DISCORD_TOKEN was refused \(401\)") as refused:
        await check_token("wrong", fake.base_url)
    assert str(refused.value) == REFUSED
    fake.fail("/users/@me", 502, 0, "Bad Gateway")
    with pytest.raises(Unavailable, match="HTTP 502"):
        await check_token(TOKEN, fake.base_url)
    closed = FakeDiscord()
    await closed.start()
    url = closed.base_url
    await closed.close()
    with pytest.raises(Unavailable, match="cannot reach the API"):
        await check_token(TOKEN, url)


async def test_slack_auth_test_classifies_the_answers() -> None:
    async with FakeSlack() as fake:
        fake.add_workspace("T1", "xoxb-good")
        assert (await slack_check(web_client(fake.api_url, "xoxb-good")))["team_id"] == "T1"
        with pytest.raises(ConfigError, match=r"refused by auth.test \(invalid_auth\)"):
            await slack_check(web_client(fake.api_url, "xoxb-unknown"))
        fake.revoked.add("xoxb-good")
        with pytest.raises(ConfigError, match="token_revoked"):
            await slack_check(web_client(fake.api_url, "xoxb-good"))
        fake.revoked.clear()
        fake.fail_next("auth.test", status=503)
        with pytest.raises(Unavailable, match="503"):
            await slack_check(web_client(fake.api_url, "xoxb-good"))
        url = fake.api_url
    with pytest.raises(Unavailable, match="cannot reach"):
        await slack_check(web_client(url, "xoxb-good"))


async def test_unavailable_is_retried_with_backoff_and_reported() -> None:
    attempts: list[int] = []
    states: list[tuple[str, str | None]] = []

    async def runner(ready: Callable[[], None]) -> None:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise Unavailable("discord: cannot reach the API (test)")
        ready()

    backoff = Backoff(initial=0.01, maximum=0.02)
    await keep_trying("discord", runner, backoff, lambda n, p: states.append((n, p)))
    assert len(attempts) == 3
    assert [p for _, p in states] == [
        "unavailable, retrying: discord: cannot reach the API (test)",
        "unavailable, retrying: discord: cannot reach the API (test)",
        None,
    ]
    assert [backoff.delay(n) for n in (1, 2, 3)] == [0.01, 0.02, 0.02]


async def test_a_refused_token_is_not_retried() -> None:
    calls = 0

    async def runner(ready: Callable[[], None]) -> None:
        nonlocal calls
        calls += 1
        raise ConfigError("discord: DISCORD_TOKEN was refused (401)")

    supervisor = Supervisor(Backoff(0.01, 0.01))
    supervisor.adapter("discord", runner)
    with pytest.raises(ConfigError):
        await supervisor.wait()
    assert calls == 1
    await supervisor.shutdown()


async def test_shutdown_order_scheduler_then_background_then_adapters() -> None:
    order: list[str] = []

    class Scheduler:
        async def stop(self, grace_s: float = 0.0) -> None:
            order.append("scheduler")

    async def serve(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            order.append(name)

    async def slack(ready: Callable[[], None]) -> None:
        await serve("slack")

    async def failing(ready: Callable[[], None]) -> None:
        await asyncio.sleep(0)
        raise ConfigError("discord: DISCORD_TOKEN was refused (401)")

    supervisor = Supervisor()
    supervisor.adapter("slack", slack)
    supervisor.adapter("discord", failing)
    supervisor.background("catch-up", serve("catch-up"))
    with pytest.raises(ConfigError):
        await supervisor.wait()
    assert order == []  # the failure alone stops nothing: shutdown does, in order
    await supervisor.shutdown(Scheduler())
    assert order == ["scheduler", "catch-up", "slack"]


async def test_settle_waits_for_a_task_that_cleans_up_after_cancel() -> None:
    cleaned = asyncio.Event()

    async def slow_cleanup() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.05)  # e.g. closing a connection
            cleaned.set()

    task = asyncio.create_task(slow_cleanup())
    await asyncio.sleep(0)
    await settle([task])
    assert task.done() and cleaned.is_set()
