"""One error tree for the whole bot.

    BriefbotError
     ├── ConfigError        bad or missing configuration (exit code 2)
     ├── SourceError        a source could not be read
     │    ├── FetchError    network, HTTP status, size or SSRF refusal
     │    └── ParseError    bytes that are not a usable feed or article
     ├── SummarizeError     a summariser could not produce a summary
     ├── StoreError         the database refused or is unreachable
     ├── DeliveryError      a chat platform refused a message
     └── CommandError       the user asked for something we cannot do; the message is shown

Library exceptions are mapped at the boundary with ``raise ... from exc``; messages
start with the component (``"fetch: https://...: timed out after 10 s"``) and never
contain a secret.
"""

from __future__ import annotations


class BriefbotError(Exception):
    """Base of every error briefbot raises on purpose."""


class ConfigError(BriefbotError):
    """Configuration is missing or invalid; the message names the key."""


class SourceError(BriefbotError):
    """A source (feed, seed file, web page) could not be read."""


class FetchError(SourceError):
    """An HTTP fetch failed; ``kind`` is one stable word for metrics and backoff."""

    def __init__(self, message: str, kind: str = "error", retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class ParseError(SourceError):
    """Bytes that could not be turned into articles."""


class SummarizeError(BriefbotError):
    """A summariser failed; callers fall back to the extractive summary."""


class StoreError(BriefbotError):
    """The database failed in a way the caller cannot fix."""


class DeliveryError(BriefbotError):
    """A chat platform refused or failed to take a message."""

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        permanent: bool = False,
        channel_gone: bool = False,
    ):
        super().__init__(message)
        self.retry_after = retry_after
        # channel_gone: no retry can ever work there (channel deleted, bot removed,
        # permission or token revoked); the delivery is dead and the schedule pauses.
        self.channel_gone = channel_gone
        self.permanent = permanent or channel_gone


class CommandError(BriefbotError):
    """A user command cannot be carried out; the message is shown to the user as is."""
