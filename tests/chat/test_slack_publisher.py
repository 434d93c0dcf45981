"""SlackPublisher (scheduled digests) and SlackOptions, against the loopback fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import create_async_engine

from bot.chat.slack import SlackOptions, build_slack_app
from bot.chat.slack_render import METADATA_EVENT, SlackPublisher
from bot.config import test_settings
from bot.core.models import Briefing, BriefingItem, ChannelRef, IncomingCommand, Reply, SourceLink
from bot.errors import ConfigError, DeliveryError
from tests.fakes.slack_api import FakeSlack, check_blocks

TOKEN = "xoxb-pub"
REF = ChannelRef("slack", "CDIGEST", "T1")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def digest(stories: int) -> Briefing:
    items = tuple(
        BriefingItem(
            headline=f"Headline {n}",
            summary=f"What happened in story {n}, in two sentences. " * 6,
            url=f"https://news.example/{n}",
            published_at=NOW - timedelta(minutes=n),
            sources=tuple(SourceLink(f"Outlet {k}", f"https://o{k}.example/{n}") for k in range(7)),
        )
        for n in range(stories)
    )
    return Briefing(NOW, NOW - timedelta(days=1), NOW, "UTC", items, None, stories * 3, stories)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_workspace("T1", TOKEN)
        yield fake


def publisher(fake: FakeSlack) -> SlackPublisher:
    # Default retry handlers only: a 429 must reach the outbox, which owns retrying.
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
    return SlackPublisher(client, post_interval=0)


def headlines(fake: FakeSlack) -> list[str]:
    found: list[str] = []
    for post in fake.posts():
        for block in post.args["blocks"]:
            if block["type"] == "section":
                found.append(block["text"]["text"].split("|", 1)[1].split(">", 1)[0])
    return found


async def test_sixty_story_digest_is_split_within_limits_and_complete(fake: FakeSlack) -> None:
    ids = await publisher(fake).publish(REF, digest(60), "digest:CDIGEST:2026-11-25T08")
    posts = fake.posts()
    assert len(posts) == len(ids) > 1
    for part, post in enumerate(posts, start=1):
        assert check_blocks(post.args["blocks"]) is None
        assert post.args["channel"] == "CDIGEST"
        payload = post.args["metadata"]["event_payload"]
        assert post.args["metadata"]["event_type"] == METADATA_EVENT
        assert payload == {
            "delivery_key": "digest:CDIGEST:2026-11-25T08",
            "part": part,
            "parts": len(posts),
        }
    assert headlines(fake) == [f"Headline {n}" for n in range(60)]


async def test_rate_limit_maps_to_delivery_error_with_retry_after(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", 429, retry_after=7)
    with pytest.raises(DeliveryError) as caught:
        await publisher(fake).publish(REF, digest(3), "k1")
    assert caught.value.retry_after == 7.0 and not caught.value.permanent
    assert not fake.posts()


async def test_server_error_maps_to_retryable_delivery_error(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", 503)
    with pytest.raises(DeliveryError) as caught:
        await publisher(fake).publish(REF, digest(3), "k1")
    assert caught.value.retry_after is None and not caught.value.permanent
    assert "503" in str(caught.value)


async def test_unknown_channel_is_a_permanent_failure(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(DeliveryError) as caught:
        await publisher(fake).publish(REF, digest(1), "k1")
    assert caught.value.permanent


async def test_retry_after_a_half_posted_digest_posts_only_the_missing_parts(
    fake: FakeSlack,
) -> None:
    pub = publisher(fake)
    fake.fail_next("chat.postMessage", 429, retry_after=3, after=1)
    with pytest.raises(DeliveryError) as caught:
        await pub.publish(REF, digest(60), "slot-A")
    assert caught.value.retry_after == 3.0
    assert len(fake.posts()) == 1  # part 1 landed before the 429

    ids = await pub.publish(REF, digest(60), "slot-A")  # the outbox's retry
    posts = fake.posts()
    assert len(posts) == len(ids) > 1
    parts = [p.args["metadata"]["event_payload"]["part"] for p in posts]
    assert parts == list(range(1, len(ids) + 1))  # part 1 was found, not reposted
    assert headlines(fake) == [f"Headline {n}" for n in range(60)]

    assert await pub.publish(REF, digest(60), "slot-A") == ids
    assert len(fake.posts()) == len(ids)


async def test_history_lookup_failure_still_posts(fake: FakeSlack) -> None:
    fake.fail_next("conversations.history", error="missing_scope")
    ids = await publisher(fake).publish(REF, digest(2), "k2")
    assert len(ids) == 1 and len(fake.posts()) == 1


async def test_installed_workspaces_post_with_their_own_token(
    fake: FakeSlack, tmp_path: Path
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'oauth.db'}")
    store = AsyncSQLAlchemyInstallationStore(client_id="1.2", engine=engine)
    await store.create_tables()
    try:
        for team in ("T1", "T2"):
            fake.add_workspace(team, f"xoxb-{team}")
            await store.async_save(
                Installation(
                    app_id="A1", user_id="UI", team_id=team, bot_token=f"xoxb-{team}", bot_id="B1"
                )
            )
        pub = SlackPublisher(AsyncWebClient(base_url=fake.api_url), store, post_interval=0)
        await pub.publish(ChannelRef("slack", "CX", "T2"), digest(1), "k3")
        [post] = fake.posts()
        assert post.headers["Authorization"] == "Bearer xoxb-T2"
        with pytest.raises(DeliveryError) as caught:
            await pub.publish(ChannelRef("slack", "CX", "T9"), digest(1), "k4")
        assert caught.value.permanent
    finally:
        await engine.dispose()


def test_options_from_env_validate_and_hide_secrets() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-secret-bot",
        "SLACK_APP_TOKEN": "xapp-secret-app",
        "SLACK_SIGNING_SECRET": "signing-secret-value",
    }
    options = SlackOptions.from_env(env=env, mode="socket", admin_user_ids=["U1"])
    assert options.bot_token == "xoxb-secret-bot" and options.admin_user_ids == {"U1"}
    shown = repr(options)
    for secret in env.values():
        assert secret not in shown
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        SlackOptions.from_env(env={"SLACK_BOT_TOKEN": "x"}, mode="socket")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        SlackOptions.from_env(env={"SLACK_BOT_TOKEN": "x"}, mode="http")
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID"):
        SlackOptions.from_env(env={"SLACK_SIGNING_SECRET": "s"}, mode="http")
    oauth = SlackOptions.from_env(
        env={"SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "cs"},
        mode="http",
        database_url="sqlite:///x.db",
    )
    assert oauth.oauth and "'cs'" not in repr(oauth)


def test_options_from_settings(tmp_path: Path) -> None:
    settings = test_settings(
        tmp_path,
        slack={"mode": "http", "host": "127.0.0.1", "port": 3100},
        chat={"admin_user_ids": ["UBOSS"]},
    )
    env = {"SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "cs"}
    options = SlackOptions.from_env(settings, env=env)
    assert (options.mode, options.host, options.port) == ("http", "127.0.0.1", 3100)
    assert options.admin_user_ids == {"UBOSS"} and options.oauth
    assert options.database_url == settings.database_url
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        SlackOptions.from_env(test_settings(tmp_path), env={"SLACK_BOT_TOKEN": "xoxb-1"})


async def test_oauth_variables_without_http_mode_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "1.2")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "cs")
    options = SlackOptions(mode="socket", app_token="xapp-1", bot_token="xoxb-1")
    with pytest.raises(ConfigError, match='mode = "http"'):
        build_slack_app(Unused(), options)


class Unused:
    async def dispatch(self, cmd: IncomingCommand) -> Reply:
        raise AssertionError("not reached")
