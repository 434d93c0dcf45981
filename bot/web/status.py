"""The status page: what the bot is doing, for the person who runs it.

Server-rendered with Jinja2 (autoescaped: feed titles are hostile input) and no
JavaScript, so it works in any browser, on a phone, and with scripts off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from bot.core.models import Briefing, FeedInfo


@dataclass(frozen=True)
class DeliveryRow:
    slot: str
    status: str
    when: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class ChannelRow:
    id: int
    name: str
    schedule: str | None
    timezone: str
    next_digest: datetime | None  # in the channel's time zone
    deliveries: tuple[DeliveryRow, ...] = ()


@dataclass(frozen=True)
class StatusSnapshot:
    generated_at: datetime
    feeds: tuple[FeedInfo, ...]
    channels: tuple[ChannelRow, ...]
    preview: Briefing | None = None
    preview_title: str = ""
    preview_channel: int | None = None
    topic: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


#: channel row id (or None) and topic words -> what the page shows.
Snapshot = Callable[[int | None, str], Awaitable[StatusSnapshot]]

_env = Environment(
    loader=PackageLoader("bot.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _safe_url(url: str | None) -> str | None:
    """Only web links become links: a feed may carry ``javascript:`` URLs."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


_env.filters["safe_url"] = _safe_url


def render_status(snapshot: StatusSnapshot) -> str:
    return _env.get_template("status.html").render(s=snapshot)


def status_page(snapshot: Snapshot) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The ``/`` handler: ``?channel=<id>`` previews that channel's next digest,
    ``?topic=words`` previews `/briefing words`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        raw = request.query.get("channel", "")
        channel = int(raw) if raw.isdigit() else None
        topic = " ".join(request.query.get("topic", "").split())[:200]
        html = render_status(await snapshot(channel, topic))
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    return handler
