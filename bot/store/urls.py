"""One mapping from the user's database URL to SQLAlchemy driver URLs."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from bot.errors import StoreError

_DRIVERS = {
    ("sqlite", False): "sqlite",
    ("sqlite", True): "sqlite+aiosqlite",
    ("postgresql", False): "postgresql+psycopg",
    ("postgresql", True): "postgresql+psycopg",
}


def driver_url(url: str, *, use_async: bool) -> str:
    """``sqlite:///x.db`` / ``postgresql://…`` → the sync or async driver URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    backend = "postgresql" if backend == "postgres" else backend
    driver = _DRIVERS.get((backend, use_async))
    if driver is None:
        raise StoreError(
            f"store: unsupported database {backend!r} (use sqlite:// or postgresql://)"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with its password hidden, fit for logs and errors."""
    return make_url(url).render_as_string(hide_password=True)
