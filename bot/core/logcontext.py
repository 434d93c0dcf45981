"""What a log line is about: the feed, channel, delivery and platform being worked on.

Set with ``bind(...)`` around a unit of work; the log formatters read ``current()``.
Context variables follow asyncio tasks, so concurrent polls never mix their feed ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

KEYS = ("feed_id", "channel", "delivery_key", "platform")

_context: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("briefbot_log_context", default=())


@contextmanager
def bind(**fields: object) -> Iterator[None]:
    """Add ``fields`` (only the keys in ``KEYS``) to every log line inside the block."""
    unknown = set(fields) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown log context keys: {sorted(unknown)}")
    merged = {**dict(_context.get()), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _context.set(tuple(merged.items()))
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, str]:
    return dict(_context.get())
