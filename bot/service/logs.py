"""Log output for `briefbot run`: human text, or one JSON object per line for collectors.

JSON keys are stable: ``ts``, ``level``, ``logger``, ``msg``, plus ``feed_id``,
``channel``, ``delivery_key`` and ``platform`` when the line is about one, and ``exc``
for a traceback. Every line passes through the secret scrubber first: a token that
reaches a message by accident (an exception echoing a URL) is masked, never written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from bot.core import logcontext

#: Environment variables whose values must never reach a log line.
SECRET_ENVS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_CLIENT_SECRET",
    "DISCORD_TOKEN",
    "BRIEFBOT_WEB_TOKEN",
    "BRIEFBOT_DATABASE_URL",
)
NOISY = ("aiosqlite", "alembic", "apscheduler", "trafilatura", "htmldate", "charset_normalizer")


def _secrets(extra_envs: tuple[str, ...] = ()) -> list[str]:
    values = [os.environ.get(name, "") for name in (*SECRET_ENVS, *extra_envs)]
    return sorted({v for v in values if len(v) >= 8}, key=len, reverse=True)


class Scrubber(logging.Filter):
    """Masks secret values in the final text of a record (message, args and traceback)."""

    def __init__(self, extra_envs: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = _secrets(extra_envs)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in logcontext.current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._scrubber = scrubber

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{k}={getattr(record, k)}" for k in logcontext.KEYS if hasattr(record, k)
        )
        return self._scrubber.scrub(f"{line} [{context}]" if context else line)


class JsonFormatter(logging.Formatter):
    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in logcontext.KEYS:
            if hasattr(record, key):
                entry[key] = str(getattr(record, key))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._scrubber.scrub(json.dumps(entry, ensure_ascii=False))


def setup(level: int, fmt: str = "text", *, webhook_envs: tuple[str, ...] = ()) -> None:
    """Send every log line to stderr in ``fmt`` ("text" or "json"), scrubbed."""
    scrubber = Scrubber(webhook_envs)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter(scrubber) if fmt == "json" else TextFormatter(scrubber))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
