"""Socket Mode end to end: the fake's apps.connections.open hands out a local websocket,
an envelope arrives on it, and the real AsyncSocketModeHandler acks it and answers."""

from __future__ import annotations

import asyncio
import contextlib

from bot.chat.slack import SlackOptions, build_slack_app, run_slack, start_slack
from bot.service.core import Core
from tests.fakes.slack_api import FakeSlack, check_blocks, slash_payload

TOKEN = "xoxb-socket"


def envelope(envelope_id: str, text: str, fake: FakeSlack) -> dict[str, object]:
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": slash_payload(text, user="UMEMBER", response_url=fake.response_url()),
    }


def options(fake: FakeSlack) -> SlackOptions:
    return SlackOptions(mode="socket", app_token=fake.app_token, bot_token=TOKEN, post_interval=0)


async def test_envelope_is_acked_and_the_briefing_posted(news_core: Core) -> None:
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        app = build_slack_app(news_core.router, options(fake), client_base_url=fake.api_url)
        running = await start_slack(app, options(fake))
        try:
            [opened] = fake.calls_to("apps.connections.open")
            assert opened.token == fake.app_token
            await fake.wait_for(lambda: fake.socket_connections == 1)
            await fake.send_envelope(envelope("env-1", "", fake))
            await fake.wait_for(lambda: fake.socket_frames and fake.posts())
            assert fake.socket_frames[0]["envelope_id"] == "env-1"
            [post] = fake.posts()
            assert post.token == TOKEN and post.args["channel"] == "C1"
            assert check_blocks(post.args["blocks"]) is None
            assert "grain corridor" in str(post.args["blocks"])
        finally:
            await running.stop()


async def test_non_admin_management_over_socket_mode_is_refused(news_core: Core) -> None:
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        app = build_slack_app(news_core.router, options(fake), client_base_url=fake.api_url)
        running = await start_slack(app, options(fake))
        try:
            await fake.send_envelope(envelope("env-2", "schedule off", fake))
            await fake.wait_for(lambda: fake.socket_frames and fake.responses)
            assert fake.socket_frames[0]["envelope_id"] == "env-2"
            [reply] = fake.responses
            assert reply["response_type"] == "ephemeral"
            assert reply["text"].startswith("Sorry, only admins can change")
        finally:
            await running.stop()


async def test_run_slack_serves_until_cancelled(news_core: Core) -> None:
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        app = build_slack_app(news_core.router, options(fake), client_base_url=fake.api_url)
        task = asyncio.create_task(run_slack(app, options(fake)))
        await fake.send_envelope(envelope("env-3", "help", fake))
        await fake.wait_for(lambda: fake.socket_frames and fake.responses)
        assert "How to use /briefing" in fake.responses[0]["text"]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.done()
        await fake.wait_for(lambda: fake.socket_connections == 0)  # the websocket was closed
