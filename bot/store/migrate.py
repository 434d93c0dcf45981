"""Apply Alembic migrations at start-up, on a short-lived synchronous engine."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bot.errors import StoreError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sync_url(url: str) -> str:
    """The driver URL for migrations and sync stores (sqlite / psycopg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise StoreError(f"store: unsupported database {backend!r}")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest revision (idempotent)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except Exception as exc:
        safe = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"store: migrating {safe} failed: {exc.__class__.__name__}") from exc
    finally:
        engine.dispose()
    log.debug("schema up to date")
