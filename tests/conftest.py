"""Fixtures shared by every test folder: settings on a real SQLite file, the wired core,
the shared evaluation data (skipped when absent) and a real PostgreSQL (skipped with a
reason on a laptop without one; required in CI via BRIEFBOT_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from bot.config import Settings, test_settings

if TYPE_CHECKING:
    from bot.app import Core

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_URL = os.environ.get(
    "BRIEFBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or a skip when a fresh clone has no such folder."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"shared evaluation data not found at {path} (only CI and dev machines have it)"
        )
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path)


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    from bot.app import open_core

    opened = await open_core(settings)
    try:
        yield opened
    finally:
        await opened.close()


def _postgres_reachable(url: str) -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'briefbot[postgres]')"
    try:
        with psycopg.connect(url.replace("postgresql://", "postgresql://", 1), connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {url}: {exc.__class__.__name__}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A real, empty PostgreSQL database (the public schema is recreated per test)."""
    problem = _postgres_reachable(POSTGRES_URL)
    if problem:
        if os.environ.get("BRIEFBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{problem} and BRIEFBOT_REQUIRE_POSTGRES=1")
        pytest.skip(problem)
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    yield POSTGRES_URL


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
