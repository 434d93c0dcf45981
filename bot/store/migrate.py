"""Apply Alembic migrations at start-up, on a short-lived synchronous engine."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from bot.errors import StoreError
from bot.store.urls import driver_url, safe_url

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest revision (idempotent)."""
    engine = create_engine(driver_url(url, use_async=False))
    try:
        with engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except Exception as exc:
        raise StoreError(
            f"store: migrating {safe_url(url)} failed: {exc.__class__.__name__}"
        ) from exc
    finally:
        engine.dispose()
    log.debug("schema up to date")
