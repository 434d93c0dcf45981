"""Post briefings to incoming-webhook URLs: Discord channel webhooks and Slack incoming webhooks.

No bot token is needed: the URL itself is the credential, so it is never logged and
never appears in an error message (only ``host/…`` does). A 429 is waited out a few
times (``Retry-After``, capped); past that the ``DeliveryError`` carries ``retry_after``
and the outbox decides.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp

from bot.chat.discord_render import render_briefing as render_discord
from bot.chat.discord_render import safe_text
from bot.chat.slack_render import escape
from bot.chat.slack_render import render_briefing as render_slack
from bot.core.models import Briefing, ChannelRef
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

WebhookKind = Literal["discord", "slack"]
Sleep = Callable[[float], Awaitable[None]]
DISCORD_HOSTS = {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}


def webhook_kind(url: str) -> WebhookKind:
    """Tell a Discord webhook from a Slack one by host, or by path for self-hosted fakes."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DeliveryError("webhook: the URL must be http(s)", permanent=True)
    host = (parts.hostname or "").lower()
    if host in DISCORD_HOSTS or parts.path.startswith("/api/webhooks/"):
        return "discord"
    if host == "hooks.slack.com" or parts.path.startswith("/services/"):
        return "slack"
    raise DeliveryError(f"webhook: {redact(url)}: not a Discord or Slack webhook", permanent=True)


def redact(url: str) -> str:
    """What may be logged about a webhook URL: scheme and host only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…"


class WebhookPublisher:
    """Publishes a briefing to one webhook URL; ``ref`` is ignored (the URL is the channel).

    Discord posts carry ``allowed_mentions: {"parse": []}`` and ``?wait=true`` so the
    message id comes back. Slack incoming webhooks answer plain ``ok`` and give no id,
    so their ids are ``slack-webhook:<part>``.
    """

    platform = "webhook"

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        *,
        kind: WebhookKind | None = None,
        max_attempts: int = 3,
        max_wait: float = 30.0,
        timeout: float = 15.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._url = url
        self._session = session
        self.kind: WebhookKind = kind or webhook_kind(url)
        self._max_attempts = max(1, max_attempts)
        self._max_wait = max_wait
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._posted: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"WebhookPublisher({self.kind}, {redact(self._url)})"

    async def notify(self, ref: ChannelRef, text: str) -> None:
        """A plain notice (feed health), inert on either kind of webhook."""
        if self.kind == "discord":
            payload: dict[str, Any] = {
                "content": safe_text(text)[:2000],
                "allowed_mentions": {"parse": []},
            }
        else:
            payload = {"text": escape(text)}
        await self._post(payload, 0)

    async def publish(self, ref: ChannelRef, briefing: Briefing, delivery_key: str) -> list[str]:
        if self.kind == "discord":
            payloads = [m.payload() for m in render_discord(briefing)]
        else:
            payloads = render_slack(briefing, buttons=False)  # no app answers a press
        # Parts already posted for this delivery (an earlier attempt that a 429 storm cut
        # short): the outbox's retry continues at the first missing part, never re-posts.
        ids = self._posted.setdefault(delivery_key, [])
        for part, payload in enumerate(payloads):
            if part < len(ids):
                continue
            ids.append(await self._post(payload, part))
        del self._posted[delivery_key]
        while len(self._posted) > 100:  # abandoned deliveries: keep the memory bounded
            del self._posted[next(iter(self._posted))]
        log.info(
            "webhook: posted briefing kind=%s host=%s parts=%d",
            self.kind,
            redact(self._url),
            len(ids),
        )
        return ids

    async def _post(self, payload: dict[str, Any], part: int) -> str:
        where = f"webhook: {redact(self._url)}"
        params = {"wait": "true"} if self.kind == "discord" else None
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._session.post(
                    self._url, json=payload, params=params, timeout=self._timeout
                ) as response:
                    body = await response.text()
                    status = response.status
                    retry_after = _retry_after(response.headers, body)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                # Not chained: aiohttp errors can quote the URL, and the URL is the secret.
                raise DeliveryError(f"{where}: {type(exc).__name__}") from None
            if 200 <= status < 300:
                return self._message_id(body, part)
            if status == 429:
                wait = retry_after if retry_after is not None else 1.0
                if attempt < self._max_attempts and wait <= self._max_wait:
                    log.warning(
                        "webhook: rate limited host=%s retry_after=%.2f attempt=%d",
                        redact(self._url),
                        wait,
                        attempt,
                    )
                    await self._sleep(wait)
                    continue
                raise DeliveryError(f"{where}: rate limited", retry_after=wait)
            detail = _error_detail(body)
            raise DeliveryError(
                f"{where}: HTTP {status} {detail}".rstrip(),
                permanent=status < 500,
                channel_gone=status in {401, 403, 404},  # webhook deleted or revoked
            )
        raise DeliveryError(f"{where}: gave up after {self._max_attempts} attempts")

    def _message_id(self, body: str, part: int) -> str:
        if self.kind == "discord":
            try:
                return str(json.loads(body)["id"])
            except (ValueError, KeyError, TypeError):
                return f"discord-webhook:{part}"
        return f"slack-webhook:{part}"


def _retry_after(headers: Any, body: str) -> float | None:
    """Seconds to wait: Discord's JSON ``retry_after`` (float) first, else the header."""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and "retry_after" in data:
            return max(0.0, float(data["retry_after"]))
    except ValueError:
        pass
    header = headers.get("Retry-After")
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None


def _error_detail(body: str) -> str:
    """A short, token-free reason: Discord's ``code``/``message`` or Slack's error word."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:80]
    if isinstance(data, dict):
        return f"{data.get('code', '')} {data.get('message', '')}".strip()[:120]
    return ""
