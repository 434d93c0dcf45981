"""Multi-workspace HTTP mode: two workspaces install through Bolt's real OAuth flow
(install page → redirect → oauth.v2.access at the fake), installations land in our
database, each workspace is answered with its own token, and uninstalling forgets it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp

from bot.chat.slack import SlackOptions, build_slack_app, close_slack_app
from bot.config import Settings
from bot.service.core import Core, open_core
from tests.fakes.slack_api import ARTICLES, FakeSlack, form, serve_bolt, signed, slash_payload

SECRET = "oauth-signing-secret"
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


@dataclass
class OAuthHarness:
    fake: FakeSlack
    core: Core
    app: AsyncApp
    url: str
    uninstalled: list[str]
    uninstall_seen: asyncio.Event

    async def install(self, team: str) -> None:
        """Walk the install flow in a browser-like session (cookies kept)."""
        self.fake.oauth_codes[f"code-{team}"] = self.fake.add_workspace(
            team, f"xoxb-{team}", admins={"UADMIN"}
        )
        async with aiohttp.ClientSession() as browser:
            async with browser.get(self.url + "/slack/install") as page:
                assert page.status == 200
                html = await page.text()
                # The state cookie is Secure (https in production); send it back by hand
                # as a browser would over https.
                cookie = "; ".join(f"{k}={m.value}" for k, m in page.cookies.items())
            match = re.search(r"state=([\w-]+)", html)
            assert match, html
            params = {"code": f"code-{team}", "state": match.group(1)}
            url = self.url + "/slack/oauth_redirect"
            async with browser.get(url, params=params, headers={"Cookie": cookie}) as done:
                assert done.status == 200, await done.text()

    async def command(self, team: str, text: str) -> int:
        body = form(slash_payload(text, team=team, response_url=self.fake.response_url(team)))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(signed(SECRET, body))
        url = self.url + "/slack/events"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as r,
        ):
            return r.status


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[OAuthHarness]:
    """On SQLite and on PostgreSQL (the installation stores live in our database)."""
    core = await open_core(settings)
    await core.pipeline.ingest("test", ARTICLES)
    options = SlackOptions(
        mode="http",
        signing_secret=SECRET,
        client_id="1111.2222",
        client_secret="oauth-client-secret",
        database_url=settings.database_url,
        post_interval=0,
    )
    uninstalled: list[str] = []
    seen = asyncio.Event()

    async def on_uninstall(team: str) -> None:
        uninstalled.append(team)
        seen.set()

    async with FakeSlack() as fake:
        app = build_slack_app(
            core.router, options, client_base_url=fake.api_url, on_uninstall=on_uninstall
        )
        try:
            async with serve_bolt(app) as url:
                yield OAuthHarness(fake, core, app, url, uninstalled, seen)
        finally:
            await close_slack_app(app)
    await core.close()


async def test_each_workspace_is_answered_with_its_own_token(harness: OAuthHarness) -> None:
    await harness.install("T1")
    await harness.install("T2")
    [access1, access2] = harness.fake.calls_to("oauth.v2.access")
    assert access1.args["code"] == "code-T1" and access2.args["code"] == "code-T2"
    store = harness.app.installation_store
    assert store is not None
    for team in ("T1", "T2"):
        found = await store.async_find_installation(enterprise_id=None, team_id=team)
        assert found is not None and found.bot_token == f"xoxb-{team}"

    assert await harness.command("T2", "") == 200
    await harness.fake.wait_for(lambda: harness.fake.posts())
    [post] = harness.fake.posts()
    assert post.headers["Authorization"] == "Bearer xoxb-T2"
    assert "grain corridor" in json.dumps(post.args["blocks"])

    assert await harness.command("T1", "") == 200
    await harness.fake.wait_for(lambda: len(harness.fake.posts()) == 2)
    assert harness.fake.posts()[1].headers["Authorization"] == "Bearer xoxb-T1"


async def test_uninstall_event_forgets_the_workspace(harness: OAuthHarness) -> None:
    await harness.install("T1")
    await harness.install("T2")
    event = {
        "token": "unused",
        "team_id": "T2",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": 1700000000,
        "event": {"type": "app_uninstalled", "event_ts": "1700000000.000100"},
    }
    body = json.dumps(event)
    headers = {"Content-Type": "application/json", **signed(SECRET, body)}
    url = harness.url + "/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        assert r.status == 200
    await asyncio.wait_for(harness.uninstall_seen.wait(), 5)  # on_uninstall runs after cleanup
    assert harness.uninstalled == ["T2"]
    store = harness.app.installation_store
    assert store is not None
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T2") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is not None

    # A later command from the removed workspace is not answered with its old token.
    await harness.command("T2", "")
    assert await harness.command("T1", "") == 200
    await harness.fake.wait_for(lambda: harness.fake.posts())
    assert [p.token for p in harness.fake.posts()] == ["xoxb-T1"]
