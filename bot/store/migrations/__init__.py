"""Alembic migrations, applied on start-up by ``bot.store.migrate``."""
