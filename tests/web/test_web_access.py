"""The operations server's doors: loopback by default, a token for anything else, and
/healthz always open; a taken port is reported and never fatal."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.config import test_settings
from bot.errors import ConfigError
from bot.service.core import Core
from bot.service.ops import ProcessProbes, web_options
from bot.store.leader import Leadership
from bot.web.server import COOKIE, WebOptions, WebServer, build_app
from tests.support import REPO, bot_env, serve_app

TOKEN = "a-long-web-token-for-tests"


class Probes:
    def __init__(self, database: str | None = None, adapters: dict[str, str | None] | None = None):
        self.database = database
        self.adapters = adapters or {}
        self.refreshed = 0

    async def database_problem(self) -> str | None:
        return self.database

    def scheduler_role(self) -> str:
        return "follower"

    def adapter_problems(self) -> dict[str, str | None]:
        return dict(self.adapters)

    async def refresh_gauges(self) -> None:
        self.refreshed += 1


async def test_with_a_token_only_healthz_is_open() -> None:
    app = build_app(Probes(), token=TOKEN)
    async with serve_app(app) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
        for path in ("/metrics", "/readyz"):
            async with http.get(base + path) as resp:
                assert resp.status == 401, path
            wrong = {"Authorization": "Bearer not-the-token"}
            async with http.get(base + path, headers=wrong) as resp:
                assert resp.status == 401, path
            right = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(base + path, headers=right) as resp:
                assert resp.status == 200, path
        # A browser gets the sign-in form, and the cookie it sets opens the page.
        async with http.get(f"{base}/readyz", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 401
            assert '<form method="post" action="/login">' in await resp.text()
        async with http.post(f"{base}/login", data={"token": "wrong"}) as resp:
            assert resp.status == 401
        async with http.post(f"{base}/login", data={"token": TOKEN}, allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.cookies[COOKIE].value == TOKEN
            assert resp.cookies[COOKIE]["httponly"]
        async with http.get(f"{base}/metrics", cookies={COOKIE: TOKEN}) as resp:
            assert resp.status == 200


async def test_without_a_token_loopback_is_open() -> None:
    async with (
        serve_app(build_app(Probes())) as base,
        aiohttp.ClientSession() as http,
        http.get(f"{base}/metrics") as resp,
    ):
        assert resp.status == 200
        assert "briefbot_feeds_polled" in await resp.text()


async def test_readyz_names_what_is_not_ready() -> None:
    probes = Probes(database="OperationalError", adapters={"slack": None, "discord": "retrying"})
    async with (
        serve_app(build_app(probes)) as base,
        aiohttp.ClientSession() as http,
        http.get(f"{base}/readyz") as resp,
    ):
        body = await resp.text()
    assert resp.status == 503
    assert "database: OperationalError" in body
    assert "discord: retrying" in body
    assert "slack" not in body


def test_a_public_bind_without_a_token_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRIEFBOT_WEB_TOKEN", raising=False)
    settings = test_settings(tmp_path, web={"enabled": True, "host": "0.0.0.0"})
    with pytest.raises(ConfigError, match="BRIEFBOT_WEB_TOKEN"):
        web_options(settings)
    monkeypatch.setenv("BRIEFBOT_WEB_TOKEN", TOKEN)
    assert web_options(settings).token == TOKEN


def test_check_config_exits_2_on_a_public_bind_without_a_token(tmp_path: Path) -> None:
    config = tmp_path / "briefbot.toml"
    config.write_text(
        f'[sources]\nseeds_dir = "{REPO / "seeds"}"\n[web]\nenabled = true\nhost = "0.0.0.0"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "-c", str(config), "check-config"],
        env=bot_env(),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "BRIEFBOT_WEB_TOKEN" in done.stderr


async def test_a_taken_port_is_reported_and_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    first = WebServer(build_app(Probes()), WebOptions(port=0))
    assert await first.start()
    assert first.url is not None
    port = int(first.url.rsplit(":", 1)[1].strip("/"))
    second = WebServer(build_app(Probes()), WebOptions(port=port))
    try:
        with caplog.at_level(logging.ERROR):
            assert not await second.start()
        assert "the port is taken" in caplog.text
        assert "keeps running" in caplog.text
    finally:
        await second.stop()
        await first.stop()


async def test_metrics_change_after_an_ingest(core: Core) -> None:
    probes = ProcessProbes(core, Leadership(core.db.engine))
    app = build_app(probes)

    async def scrape(http: aiohttp.ClientSession, base: str) -> dict[str, float]:
        async with http.get(f"{base}/metrics") as resp:
            text = await resp.text()
        values = {}
        for line in text.splitlines():
            if line.startswith("briefbot_") and " " in line:
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    async with serve_app(app) as base, aiohttp.ClientSession() as http:
        before = await scrape(http, base)
        report = await core.ingest_seeds()
        after = await scrape(http, base)
    new = 'briefbot_items_ingested_total{result="new"}'
    assert report.stats.new >= 1
    assert after[new] - before.get(new, 0) == report.stats.new
    assert after["briefbot_articles"] >= report.stats.new
    assert after["briefbot_stories"] >= 1
