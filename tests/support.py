"""Helpers the tests import: the shared evaluation data and a loopback app server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def bot_env(**extra: str) -> dict[str, str]:
    """The environment for a ``python -m bot`` child: this checkout's ``bot`` first on the
    path (not whatever is installed), no chat tokens or database URL from the caller."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_")) and k != "BRIEFBOT_DATABASE_URL"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or a skip when a fresh clone has no such folder."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"shared evaluation data not found at {path} (only CI and dev machines have it)"
        )
    return path


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app on 127.0.0.1 (a free port); yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def discord_webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback Discord webhook that records every post; yields (base URL, posts)."""
    posts: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        posts.append(await request.json())
        return web.json_response({"id": str(1000 + len(posts))})

    app = web.Application()
    app.router.add_post("/api/webhooks/{id}/{token}", receive)
    async with serve_app(app) as base:
        yield base, posts
