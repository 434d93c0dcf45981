"""Fixtures shared by every test folder: settings on a real SQLite file, the wired core,
and a real PostgreSQL (skipped with a reason on a laptop without one; required in CI via
BRIEFBOT_REQUIRE_POSTGRES=1). Importable helpers live in ``tests/support.py``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.config import Settings, test_settings

if TYPE_CHECKING:
    from bot.service.core import Core

POSTGRES_URL = os.environ.get(
    "BRIEFBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on a real SQLite file, and again on the real PostgreSQL: every test that
    uses the wired core runs against both databases."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        return test_settings(tmp_path, bot={"database_url": url})
    return test_settings(tmp_path)


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    from bot.service.core import open_core

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
