"""One scheduler leader per database: a PostgreSQL advisory lock; SQLite is one process."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

LOCK_KEY = 0x6272696566  # "brief"


class Leadership:
    """Holds the lock on its own connection for as long as the process leads."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self.is_leader = False

    async def try_acquire(self) -> bool:
        if self._engine.dialect.name != "postgresql":
            self.is_leader = True
            return True
        if self._conn is None:
            self._conn = await self._engine.connect()
        got = (
            await self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})
        ).scalar_one()
        await self._conn.commit()
        self.is_leader = bool(got)
        if not self.is_leader:
            await self._conn.close()
            self._conn = None
        log.info("scheduler leadership: %s", "acquired" if self.is_leader else "held elsewhere")
        return self.is_leader

    async def release(self) -> None:
        if self._conn is not None:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            await self._conn.close()
            self._conn = None
        self.is_leader = False
