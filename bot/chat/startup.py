"""How a chat adapter's start-up failure is classified, shared by Slack and Discord.

Two kinds matter to ``briefbot run``:

* a refused credential is a ``ConfigError``: retrying cannot help, the process exits
  with code 2 and the message names the variable;
* a platform that is unreachable, times out or answers 5xx is ``Unavailable``: the
  supervisor retries that adapter with backoff while the others keep serving.

Anything else is a bug or an unknown failure and propagates unchanged.
"""

from __future__ import annotations

import asyncio

import aiohttp

from bot.errors import BriefbotError


class Unavailable(BriefbotError):
    """A platform could not be reached (or answered 5xx) while an adapter started."""


def network_failure(exc: BaseException) -> bool:
    """True for errors that say "the other end is not there right now"."""
    return isinstance(exc, OSError | aiohttp.ClientError | asyncio.TimeoutError | TimeoutError)


def describe(exc: BaseException) -> str:
    """A short, secret-free description of a network failure for logs."""
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]


__all__ = ["Unavailable", "describe", "network_failure"]
