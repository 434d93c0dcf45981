"""Briefing → Slack Block Kit messages, and the Slack ``Publisher`` for scheduled digests.

Everything a feed wrote (headlines, summaries, source names, URLs) is escaped before it
reaches Slack, so a title such as ``<!channel>`` or ``<https://evil|click>`` shows as
text and never pings or links. Long digests are split across several messages that
each respect Slack's limits (50 blocks, 3000 characters per section, 150 per header,
and a total block size well under ``msg_blocks_too_long``); no story is ever dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.drilldown import when
from bot.core.models import Briefing, BriefingItem, ChannelRef, Mention, SourceLink, StoryDetail
from bot.core.personal import dm_user
from bot.delivery.pacing import ChannelPacer
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_CONTEXT_CHARS = 3000
# Slack rejects messages whose blocks are too large in total (msg_blocks_too_long, seen
# around 13k characters); stay well below it.
MAX_MESSAGE_CHARS = 11_000
MAX_FALLBACK_CHARS = 3000
MAX_SOURCES = 5
METADATA_EVENT = "briefbot_digest"

_HEADLINE_CHARS = 300
_SOURCE_NAME_CHARS = 60
_URL_CHARS = 600
_SOURCES_LINE_CHARS = 1200


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# mrkdwn has no backslash escape: inside a *bold* headline a title's own ``*``, ``_``,
# ``~`` or backtick would end the bold or start italics/strike/code. Look-alikes keep
# the text readable and the markup intact.
_MARKUP_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})


def plain_markup(text: str) -> str:
    """``text`` with Slack's emphasis characters replaced by look-alikes."""
    return text.translate(_MARKUP_LOOKALIKES)


def _fit(raw: str, limit: int) -> str:
    """Escape ``raw`` and cut it to ``limit`` characters without splitting an entity."""
    return _cut(escape(" ".join(raw.split())), limit)


def _cut(text: str, limit: int) -> str:
    """Shorten already escaped ``text`` to ``limit`` characters, ending with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


def _safe_url(url: str | None) -> str | None:
    """An http(s) URL made safe inside ``<url|label>``, or None when it cannot be linked."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    if any(ch.isspace() for ch in url):
        return None
    safe = escape(url).replace("|", "%7C")
    return safe if len(safe) <= _URL_CHARS else None


def _link(url: str | None, label: str, limit: int) -> str:
    text = _fit(label, limit)
    safe = _safe_url(url)
    return f"<{safe}|{text}>" if safe else text


def _sources_line(sources: Sequence[SourceLink], max_sources: int) -> str:
    parts: list[str] = []
    used = 0
    for source in sources[:max_sources]:
        part = _link(source.url, source.name or "source", _SOURCE_NAME_CHARS)
        if used + len(part) + 3 > _SOURCES_LINE_CHARS:
            break
        parts.append(part)
        used += len(part) + 3
    more = len(sources) - len(parts)
    if more > 0:
        parts.append(f"+{more} more")
    return "Sources: " + " · ".join(parts) if parts else ""


def story_section(
    item: BriefingItem, max_sources: int = MAX_SOURCES, *, button: bool = True
) -> dict[str, Any]:
    """One section block: linked headline, summary, sources; always ≤ 3000 characters."""
    label = plain_markup(item.headline or "(untitled)")
    headline = "*" + _link(item.url, label, _HEADLINE_CHARS) + "*"
    sources = _sources_line(item.sources, max_sources)
    budget = MAX_SECTION_CHARS - len(headline) - len(sources) - 2
    lines = [headline]
    summary = _fit(item.summary, budget) if item.summary.strip() else ""
    if summary:
        lines.append(summary)
    if sources:
        lines.append(sources)
    block: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "\n".join(lines)},
    }
    if button and item.story_id is not None:
        block["accessory"] = sources_button(item)
    return block


STORY_ACTION = "briefbot_story"


def sources_button(item: BriefingItem) -> dict[str, Any]:
    """ "Sources (N)": the story's drill-down, answered ephemerally (``STORY_ACTION``)."""
    count = item.article_count or len(item.sources)
    return {
        "type": "button",
        "action_id": STORY_ACTION,
        "text": {"type": "plain_text", "text": f"Sources ({count})"},
        "value": str(item.story_id),
    }


def _header(title: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _fit(title, MAX_HEADER_CHARS), "emoji": True},
    }


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _fit(text, MAX_CONTEXT_CHARS)}],
    }


def block_chars(block: dict[str, Any]) -> int:
    """Characters of text a block carries (what counts towards msg_blocks_too_long)."""
    total = 0
    text = block.get("text")
    if isinstance(text, dict):
        total += len(str(text.get("text", "")))
    for element in block.get("elements", ()):
        if isinstance(element, dict):
            total += len(str(element.get("text", "")))
    return total


def _fallback(briefing: Briefing, items: Sequence[BriefingItem], part: str) -> str:
    lines = [_fit(briefing.title + part, MAX_HEADER_CHARS)]
    for item in items:
        lines.append("• " + _fit(item.headline, 200))
    text = "\n".join(lines)
    if len(text) > MAX_FALLBACK_CHARS:
        text = text[: MAX_FALLBACK_CHARS - 1]
        text = text[: text.rfind("\n")] + "\n…"
    return text


def render_briefing(
    briefing: Briefing, max_sources: int = MAX_SOURCES, *, buttons: bool = True
) -> list[dict[str, Any]]:
    """Render a briefing as one or more ``{"text", "blocks"}`` messages, in order.

    The first message carries the header and a context line (time, counts); later ones
    repeat the header with "(k/n)". Every story appears in exactly one message, with a
    "Sources (N)" button unless ``buttons`` is off (an incoming webhook has no app to
    answer it).
    """
    stamp = f"{briefing.generated_at:%H:%M} {briefing.timezone}"
    context = _context(f"{stamp} · {briefing.counts_line}")
    sections = [(item, story_section(item, max_sources, button=buttons)) for item in briefing.items]
    ping = mention_token(briefing.mention)
    lead = [context] if ping is None else [_mention_block(ping), context]

    # Pack sections greedily; the header (and the mention and context line in the first
    # message) take their share of each message's block and size budget.
    groups: list[list[tuple[BriefingItem, dict[str, Any]]]] = [[]]
    fixed = 1 + len(lead)
    size = MAX_HEADER_CHARS + block_chars(context)
    for item, section in sections:
        chars = block_chars(section)
        group = groups[-1]
        if group and (fixed + len(group) + 1 > MAX_BLOCKS or size + chars > MAX_MESSAGE_CHARS):
            groups.append([])
            fixed, size = 1, MAX_HEADER_CHARS
        groups[-1].append((item, section))
        size += chars

    total = len(groups)
    messages: list[dict[str, Any]] = []
    for index, group in enumerate(groups, start=1):
        part = f" ({index}/{total})" if total > 1 else ""
        blocks: list[dict[str, Any]] = [_header(briefing.title + part)]
        if index == 1:
            blocks.extend(lead)
        blocks.extend(section for _, section in group)
        if not briefing.items:
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "No new stories in this window."},
                }
            )
        text = _fallback(briefing, [item for item, _ in group], part)
        if index == 1 and ping is not None:
            text = _cut(f"{ping} {text}", MAX_FALLBACK_CHARS)  # notifications read `text`
        messages.append({"text": text, "blocks": blocks})
    return messages


def thread_header(briefing: Briefing) -> dict[str, Any]:
    """Thread mode's first message: the title, how many stories, the opted-in mention;
    the stories follow as replies in its thread."""
    count = len(briefing.items)
    noun = "story" if count == 1 else "stories"
    title = f"{briefing.title} · {count} {noun}"
    stamp = f"{briefing.generated_at:%H:%M} {briefing.timezone}"
    blocks: list[dict[str, Any]] = [_header(title)]
    ping = mention_token(briefing.mention)
    if ping is not None:
        blocks.append(_mention_block(ping))
    blocks.append(_context(f"{stamp} · {briefing.counts_line} · stories in the thread"))
    text = _cut(f"{ping} {title}" if ping else title, MAX_FALLBACK_CHARS)
    return {"text": text, "blocks": blocks}


def render_digest(briefing: Briefing, max_sources: int = MAX_SOURCES) -> list[dict[str, Any]]:
    """A scheduled digest's messages: the briefing's, after a thread header in thread
    mode (the mention then rides on the header alone)."""
    if not briefing.threaded:
        return render_briefing(briefing, max_sources)
    return [thread_header(briefing), *render_briefing(replace(briefing, mention=None), max_sources)]


_GROUP_ID = re.compile(r"^[A-Z0-9]{1,20}$")


def mention_token(mention: Mention | None) -> str | None:
    """Slack's syntax for the one mention an admin opted into: ``<!here>`` or a user
    group (``<!subteam^ID>``); feed text is escaped, so it is the only live one."""
    if mention is None:
        return None
    if mention.kind == "here":
        return "<!here>"
    if mention.kind == "group" and _GROUP_ID.match(mention.id):
        return f"<!subteam^{mention.id}>"
    return None


def _mention_block(token: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": token}}


def render_story(detail: StoryDetail) -> list[dict[str, Any]]:
    """A drill-down as one message: the headline, the longer summary, then every article
    (outlet, linked headline, time) packed into sections; feed text escaped."""
    place = f"Story {detail.number}: " if detail.number else ""
    lead = detail.articles[0] if detail.articles else None
    title = (
        "*" + _link(lead.url if lead else None, plain_markup(place + detail.headline), 300) + "*"
    )
    summary = _fit(detail.summary, MAX_SECTION_CHARS - len(title) - 1)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{title}\n{summary}".strip()}},
        _context(f"Sources ({len(detail.articles)})"),
    ]
    lines = []
    for article in detail.articles:
        stamp = f"{when(article.published_at, detail.timezone)} {detail.timezone}"
        headline = _link(article.url, plain_markup(article.title or "(untitled)"), _HEADLINE_CHARS)
        lines.append(
            f"• *{_fit(article.source, _SOURCE_NAME_CHARS)}* — {headline} · {escape(stamp)}"
        )
    size = sum(block_chars(b) for b in blocks)
    section = ""
    for line in lines:
        if section and len(section) + 1 + len(line) > MAX_SECTION_CHARS:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
            size += len(section)
            section = ""
        if len(blocks) >= MAX_BLOCKS - 1 or size + len(section) + len(line) > MAX_MESSAGE_CHARS:
            section = (section + "\n" if section else "") + "…"
            break
        section = f"{section}\n{line}" if section else line
    if section:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
    fallback = _cut(escape(place + detail.headline), MAX_FALLBACK_CHARS)
    return [{"text": fallback, "blocks": blocks}]


def render_text(text: str) -> list[dict[str, Any]]:
    """A plain reply (help, feeds, settings, errors) as escaped mrkdwn messages.

    Lines are packed into sections of ≤ 3000 characters and sections into messages
    within the block and size limits, so a long ``feeds`` list is split, not cut.
    """
    chunks: list[str] = []
    current = ""
    for raw in text.splitlines() or [""]:
        line = escape(raw)
        while len(line) > MAX_SECTION_CHARS:  # one enormous line: cut it, never lose it
            cut = line.rfind("&", 0, MAX_SECTION_CHARS)
            cut = cut if cut > MAX_SECTION_CHARS - 8 else MAX_SECTION_CHARS
            chunks.append(line[:cut])
            line = line[cut:]
        if current and len(current) + 1 + len(line) > MAX_SECTION_CHARS:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    chunks.append(current)
    messages: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    size = 0
    for chunk in (c for c in chunks if c.strip()):
        if blocks and (len(blocks) == MAX_BLOCKS or size + len(chunk) > MAX_MESSAGE_CHARS):
            messages.append({"blocks": blocks})
            blocks, size = [], 0
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
        size += len(chunk)
    messages.append({"blocks": blocks})
    for message in messages:
        body = "\n".join(b["text"]["text"] for b in message["blocks"])
        message["text"] = _cut(body, MAX_FALLBACK_CHARS) or " "
    return messages


# -- publishing -------------------------------------------------------------------------

_PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "not_authed",
    "missing_scope",
    "invalid_blocks",
    "msg_blocks_too_long",
    # a personal digest's user cannot get our direct messages (conversations.open)
    "cannot_dm_bot",
    "user_disabled",
    "user_not_found",
    "user_not_visible",
    "messages_tab_disabled",
}


def delivery_error(exc: Exception, where: str) -> DeliveryError:
    """Map a slack_sdk/aiohttp failure to DeliveryError (retry_after for 429s)."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = response.status_code
        error = str(response.get("error", "")) if isinstance(response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            header = response.headers.get("Retry-After") or response.headers.get("retry-after")
            retry = _retry_after(header)
            return DeliveryError(f"slack: {where}: rate limited", retry_after=retry)
        detail = error or f"HTTP {status}"
        return DeliveryError(f"slack: {where}: {detail}", channel_gone=error in _PERMANENT)
    if isinstance(exc, asyncio.TimeoutError):
        return DeliveryError(f"slack: {where}: timed out")
    return DeliveryError(f"slack: {where}: {type(exc).__name__}: {exc}")


def _retry_after(header: Any) -> float:
    value = header[0] if isinstance(header, list) and header else header
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return 1.0


class SlackPublisher:
    """Posts scheduled digests with ``chat.postMessage`` (implements ``Publisher``).

    Each message carries metadata ``{"delivery_key", "part", "parts"}``; before posting,
    the channel's recent history is searched for parts already posted under the same key
    (a retry after a crash or a 429 half-way), so a digest is never doubled. The lookup
    is best effort: without ``channels:history`` the publisher simply posts. Retrying is
    the outbox's job: a 429 raises ``DeliveryError(retry_after=...)``.

    With an installation store (multi-workspace OAuth) the bot token of
    ``ref.workspace`` is used; otherwise the client's own token.
    """

    platform = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        installation_store: AsyncInstallationStore | None = None,
        *,
        post_interval: float = 1.0,
        max_sources: int = MAX_SOURCES,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self._client = client
        self._store = installation_store
        self._pacer = pacer or ChannelPacer(post_interval)
        self._max_sources = max_sources

    async def _token(self, ref: ChannelRef) -> str | None:
        if self._store is None:
            return self._client.token
        bot = await self._store.async_find_bot(enterprise_id=None, team_id=ref.workspace or None)
        if bot is None or not bot.bot_token:
            raise DeliveryError(
                f"slack: workspace {ref.workspace or '?'} is not installed", permanent=True
            )
        return bot.bot_token

    async def _already_posted(
        self, token: str | None, channel: str, key: str, thread_ts: str | None = None
    ) -> dict[int, str]:
        """Parts of this delivery already in the channel (or in the digest's thread):
        part → ts. Best effort: without ``channels:history`` it finds nothing."""
        try:
            if thread_ts is None:
                response = await self._client.conversations_history(
                    token=token, channel=channel, limit=100, include_all_metadata=True
                )
            else:
                response = await self._client.conversations_replies(
                    token=token,
                    channel=channel,
                    ts=thread_ts,
                    limit=100,
                    include_all_metadata=True,
                )
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            log.debug("slack history lookup skipped channel=%s: %s", channel, exc)
            return {}
        found: dict[int, str] = {}
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("delivery_key") == key:
                found.setdefault(int(payload.get("part", 0)), str(message.get("ts")))
        return found

    async def _open_dm(self, token: str | None, ref: ChannelRef) -> ChannelRef:
        """``ref`` itself, or for a personal digest the DM channel ``conversations.open``
        gives (the same one each time, so the history lookup still finds earlier parts)."""
        user = dm_user(ref)
        if user is None:
            return ref
        try:
            response = await self._client.conversations_open(token=token, users=user)
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            raise delivery_error(exc, f"conversations.open {user}") from exc
        channel = (response.get("channel") or {}).get("id")
        if not channel:
            raise DeliveryError(f"slack: conversations.open {user}: no channel")
        return replace(ref, channel=str(channel))

    async def notify(self, ref: ChannelRef, text: str) -> None:
        """A plain notice (feed health): escaped, no unfurls, no mentions possible."""
        await self._pacer.wait(ref.channel)
        try:
            await self._client.chat_postMessage(
                token=await self._token(ref),
                channel=ref.channel,
                text=escape(text),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            raise delivery_error(exc, "chat.postMessage") from exc

    async def publish(self, ref: ChannelRef, briefing: Briefing, delivery_key: str) -> list[str]:
        """Post every part not yet in the channel; return all parts' message ts, in order.

        In thread mode part 1 is a short header and the rest are replies in its thread.
        """
        messages = render_digest(briefing, self._max_sources)
        token = await self._token(ref)
        ref = await self._open_dm(token, ref)  # a personal digest: `dm:<user>`
        done = await self._already_posted(token, ref.channel, delivery_key)
        ids: list[str] = []
        thread_ts: str | None = None
        for part, message in enumerate(messages, start=1):
            if briefing.threaded and part == 2:
                thread_ts = ids[0]
                replies = await self._already_posted(token, ref.channel, delivery_key, thread_ts)
                done.update((k, v) for k, v in replies.items() if k > 1)
            if part in done:
                ids.append(done[part])
                continue
            await self._pacer.wait(ref.channel)  # ≤ 1 message per second per channel
            metadata = {
                "event_type": METADATA_EVENT,
                "event_payload": {
                    "delivery_key": delivery_key,
                    "part": part,
                    "parts": len(messages),
                },
            }
            try:
                response = await self._client.chat_postMessage(
                    token=token,
                    channel=ref.channel,
                    text=message["text"],
                    blocks=message["blocks"],
                    metadata=metadata,
                    unfurl_links=False,
                    unfurl_media=False,
                    thread_ts=thread_ts,
                )
            except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
                raise delivery_error(exc, f"chat.postMessage {ref.channel}") from exc
            ids.append(str(response.get("ts")))
        log.info(
            "slack digest posted channel=%s parts=%d key=%s", ref.channel, len(ids), delivery_key
        )
        return ids
