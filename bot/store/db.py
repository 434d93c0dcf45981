"""Open the database: migrate, then hand out one async engine shared by the repositories."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from bot.errors import StoreError
from bot.store import migrate
from bot.store.articles import ArticleRepo
from bot.store.channels import ChannelRepo
from bot.store.deliveries import DeliveryRepo
from bot.store.feeds import FeedRepo
from bot.store.urls import driver_url, safe_url

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn: object, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


@dataclass
class Database:
    """The store's composition: one engine, one repository per concern."""

    engine: AsyncEngine
    articles: ArticleRepo
    channels: ChannelRepo
    feeds: FeedRepo
    deliveries: DeliveryRepo

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()


async def open_database(url: str) -> Database:
    """Migrate the schema (in a thread: Alembic is synchronous) and open the async engine."""
    safe = safe_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
    await asyncio.get_running_loop().run_in_executor(None, migrate.upgrade, url)
    # A ping on every checkout finds a PostgreSQL connection the server dropped; a SQLite
    # file cannot drop one, and the ping was a thread round trip per query at ingest.
    sqlite = make_url(url).get_backend_name() == "sqlite"
    try:
        engine = create_async_engine(driver_url(url, use_async=True), pool_pre_ping=not sqlite)
    except Exception as exc:
        raise StoreError(f"store: cannot open {safe}: {exc.__class__.__name__}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    log.info("database open: %s", safe)
    return Database(
        engine=engine,
        articles=ArticleRepo(engine),
        channels=ChannelRepo(engine),
        feeds=FeedRepo(engine),
        deliveries=DeliveryRepo(engine),
    )
