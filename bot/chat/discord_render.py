"""Briefing → Discord messages (embeds), and the bot-token publisher that posts them.

Rendering is pure: a briefing becomes plain JSON-shaped dicts that fit Discord's limits,
so the same output feeds the bot (``channel.send``) and channel webhooks. A long digest
is split across messages, never cut short. Feed text is untrusted: markdown is escaped
and mentions are broken with a zero-width space even though every post also sets
``allowed_mentions`` to nothing, so a hostile title can neither ping nor restyle.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import discord

from bot.chat.discord_dm import open_dm
from bot.core.drilldown import when
from bot.core.models import Briefing, BriefingItem, ChannelRef, StoryDetail
from bot.core.personal import dm_user
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

# Limits Discord enforces (answering 400 / 50035 when broken).
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_URL = 2048

EMBED_COLOUR = 0x2B6CB0
NO_MENTIONS: dict[str, Any] = {"parse": []}
#: Messages read back before a digest is sent: a digest is a few messages, and a
#: resume may come after other posts in the channel.
HISTORY_LOOKBACK = 50
MAX_THREAD_NAME = 100
#: Discord's answer when a message already has a thread (a resumed threaded digest).
THREAD_EXISTS = 160004

_USER_MENTION = re.compile(r"<(@[!&]?|#)(\d*)>")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ZWSP = "\u200b"


@dataclass(frozen=True, slots=True)
class DiscordMessage:
    """One message to post: content plus up to ten embeds, already within the limits."""

    content: str
    embeds: tuple[dict[str, Any], ...]
    #: The one role an admin opted into (`/briefing mention`); nothing else may ping.
    roles: tuple[str, ...] = ()
    #: "Sources (N)" buttons as (custom_id, label); bot posts only (webhooks can't).
    buttons: tuple[tuple[str, str], ...] = ()

    def payload(self) -> dict[str, Any]:
        """The JSON body for a webhook or message-create call."""
        allowed = {"parse": [], "roles": list(self.roles)} if self.roles else NO_MENTIONS
        body: dict[str, Any] = {"embeds": list(self.embeds), "allowed_mentions": allowed}
        if self.content:
            body["content"] = self.content
        return body

    def view(self) -> discord.ui.View | None:
        """The buttons as a discord.py view (build it inside the event loop)."""
        return StoryButtons(self.buttons) if self.buttons else None

    def allowed_mentions(self) -> discord.AllowedMentions:
        """Exactly the opted-in role, or no one: never @everyone, users or other roles."""
        roles: list[discord.abc.Snowflake] | bool = [discord.Object(int(r)) for r in self.roles]
        return discord.AllowedMentions(
            everyone=False, users=False, roles=roles or False, replied_user=False
        )

    def discord_embeds(self) -> list[discord.Embed]:
        """The same embeds as discord.py objects, for ``channel.send``/follow-ups."""
        return [discord.Embed.from_dict(e) for e in self.embeds]


STORY_BUTTON = "briefbot:story:{}"  # custom_id; the client answers it (discord_story.py)
MAX_BUTTONS_PER_ROW = 5


class StoryButtons(discord.ui.View):
    """Grey "Sources (N)" buttons under a briefing's embeds.

    Presses are answered by the client's registered dynamic item, matched on the
    custom_id, so this view never needs to be kept: it reports itself as not
    dispatchable, and discord.py then does not store one view per digest forever.
    """

    def __init__(self, buttons: Sequence[tuple[str, str]]) -> None:
        super().__init__(timeout=None)
        for index, (custom_id, label) in enumerate(buttons[:25]):
            self.add_item(
                discord.ui.Button(
                    label=label[:80],
                    custom_id=custom_id,
                    style=discord.ButtonStyle.secondary,
                    row=index // MAX_BUTTONS_PER_ROW,
                )
            )

    def is_dispatchable(self) -> bool:
        return False


def story_button(item: BriefingItem, position: int) -> tuple[str, str] | None:
    if item.story_id is None:
        return None
    count = item.article_count or len(item.sources)
    return STORY_BUTTON.format(item.story_id), f"Story {position} · Sources ({count})"


def neutralise_mentions(text: str) -> str:
    """Break ``@everyone``, ``@here``, ``<@id>``, ``<@&id>``, ``<#id>`` so they stay text."""
    text = _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), text)
    return _USER_MENTION.sub(lambda m: "<" + _ZWSP + m.group(1) + m.group(2) + ">", text)


def safe_text(text: str) -> str:
    """Untrusted feed text → inert Discord text (markdown escaped, mentions broken)."""
    return neutralise_mentions(discord.utils.escape_markdown(text.strip()))


def truncate(text: str, limit: int) -> str:
    """Cut to ``limit`` characters with an ellipsis, never leaving a dangling escape."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # An odd run of trailing backslashes would escape the ellipsis or break the text.
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + "…"


def embed_length(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6000 per-message budget."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    for item in embed.get("fields", []):
        total += len(item.get("name", "")) + len(item.get("value", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    total += len(embed.get("author", {}).get("name", ""))
    return total


def _web_url(url: str | None) -> str | None:
    """An http(s) URL Discord will accept, or None (a bad URL fails the whole message)."""
    if not url or not url.startswith(("http://", "https://")) or len(url) > MAX_URL:
        return None
    if any(ch.isspace() for ch in url):
        return None
    return url


def _link(name: str, url: str | None) -> str:
    label = safe_text(name).replace("[", "(").replace("]", ")") or "source"
    target = _web_url(url)
    if target is None:
        return label
    target = target.replace("(", "%28").replace(")", "%29")
    link = f"[{label}]({target})"
    # A link too long to share a field with others is shown as its name alone.
    return link if len(link) <= MAX_FIELD_VALUE // 2 else truncate(label, MAX_FIELD_VALUE // 2)


def _sources_value(item: BriefingItem) -> str:
    """Source links joined within one field value; overflow becomes "+N more"."""
    links = [_link(s.name, s.url) for s in item.sources]
    value = ""
    for index, link in enumerate(links):
        candidate = link if not value else f"{value} · {link}"
        remaining = len(links) - index - 1
        reserve = len(f" · +{len(links)} more") if remaining else 0
        if len(candidate) + reserve > MAX_FIELD_VALUE:
            more = f"+{len(links) - index} more"
            return f"{value} · {more}" if value else more
        value = candidate
    return value or "—"


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def story_embed(item: BriefingItem, position: int, total: int) -> dict[str, Any]:
    """One story as one embed: linked title, summary, sources field, time, counts."""
    embed: dict[str, Any] = {
        "type": "rich",
        "title": truncate(safe_text(item.headline) or "Untitled", MAX_TITLE),
        "color": EMBED_COLOUR,
        "timestamp": _timestamp(item.published_at),
    }
    url = _web_url(item.url)
    if url:
        embed["url"] = url
    summary = safe_text(item.summary)
    if summary:
        embed["description"] = truncate(summary, MAX_DESCRIPTION)
    if item.sources:
        embed["fields"] = [{"name": "Sources", "value": _sources_value(item), "inline": False}]
    count = len(item.sources)
    noun = "source" if count == 1 else "sources"
    embed["footer"] = {"text": f"Story {position} of {total} · {count} {noun}"}
    return embed


def _header(briefing: Briefing) -> str:
    lines = [f"**{safe_text(briefing.title)}**", safe_text(briefing.counts_line)]
    if not briefing.items:
        lines.append("No new stories in this window.")
    return truncate("\n".join(lines), MAX_CONTENT)


def pack_embeds(embeds: Sequence[dict[str, Any]], reserve: int = 0) -> list[list[dict[str, Any]]]:
    """Greedy split into groups of ≤10 embeds and ≤6000 counted characters each
    (``reserve`` of them kept free per group, for the delivery marker)."""
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    used = 0
    for embed in embeds:
        size = embed_length(embed)
        budget = MAX_EMBED_TOTAL - reserve
        if current and (len(current) == MAX_EMBEDS or used + size > budget):
            groups.append(current)
            current, used = [], 0
        current.append(embed)
        used += size
    if current:
        groups.append(current)
    return groups


def delivery_marker(delivery_key: str, part: int, parts: int) -> str:
    """A short tag in a digest part's last footer: the publisher finds the parts already
    in a channel by it after a crash, when Discord's nonce has long expired."""
    return f"ref {_key_digest(delivery_key)}·{part}/{parts}"


def _key_digest(delivery_key: str) -> str:
    return hashlib.sha256(delivery_key.encode()).hexdigest()[:10]


_MARKER = re.compile(r"ref ([0-9a-f]{10})·(\d+)/(\d+)$")
_MARKER_RESERVE = 40  # " · ref 0123456789·10/10" and then some


def find_marker(footer: str) -> tuple[str, int, int] | None:
    """(digest of the delivery key, part, parts) from a footer that ends with a marker."""
    found = _MARKER.search(footer)
    return (found.group(1), int(found.group(2)), int(found.group(3))) if found else None


def _mark(group: list[dict[str, Any]], marker: str) -> list[dict[str, Any]]:
    if not group:
        return group
    last = dict(group[-1])
    text = last.get("footer", {}).get("text", "")
    last["footer"] = {"text": f"{text} · {marker}" if text else marker}
    return [*group[:-1], last]


def thread_name(briefing: Briefing) -> str:
    return truncate(briefing.title, MAX_THREAD_NAME)


def render_digest(briefing: Briefing, delivery_key: str) -> list[DiscordMessage]:
    """A scheduled digest's messages. In thread mode the first is a short header (it
    alone carries the opted-in mention) and the stories follow in its thread."""
    if not briefing.threaded:
        return render_briefing(briefing, delivery_key)
    body = render_briefing(replace(briefing, mention=None), delivery_key, after_header=True)
    count = len(briefing.items)
    noun = "story" if count == 1 else "stories"
    marker = delivery_marker(delivery_key, 1, len(body) + 1)
    lines = [
        f"**{safe_text(briefing.title)} · {count} {noun}**",
        safe_text(briefing.counts_line),
        f"-# The stories are in the thread · {marker}",
    ]
    role = _role(briefing)
    roles: tuple[str, ...] = ()
    if role is not None:
        lines.insert(0, f"<@&{role}>")
        roles = (role,)
    content = "\n".join(lines)
    if len(content) > MAX_CONTENT:  # keep the marker at the end, where it is looked for
        content = truncate(content[: -len(lines[-1]) - 1], MAX_CONTENT - 80) + "\n" + lines[-1]
    return [DiscordMessage(content, (), roles), *body]


def _role(briefing: Briefing) -> str | None:
    """The opted-in role id of a digest, when it is one Discord can mention."""
    mention = briefing.mention
    if mention is None or mention.kind != "role" or not mention.id.isdigit():
        return None
    return mention.id


def render_briefing(
    briefing: Briefing, delivery_key: str | None = None, *, after_header: bool = False
) -> list[DiscordMessage]:
    """A briefing as one or more messages; every story appears exactly once. A digest
    with an opted-in role mentions it first thing in the first message, and allows
    that role alone to ping. With ``delivery_key`` each part's last embed footer ends
    with its delivery marker (numbered after a thread header with ``after_header``)."""
    total = len(briefing.items)
    embeds = [story_embed(item, i, total) for i, item in enumerate(briefing.items, start=1)]
    groups = pack_embeds(embeds, _MARKER_RESERVE if delivery_key else 0) or [[]]
    role = _role(briefing)
    messages: list[DiscordMessage] = []
    position = 0
    for number, group in enumerate(groups, start=1):
        buttons = []
        for _ in group:
            position += 1
            button = story_button(briefing.items[position - 1], position)
            if button is not None:
                buttons.append(button)
        roles: tuple[str, ...] = ()
        if number == 1:
            content = _header(briefing)
            if role is not None:
                content, roles = truncate(f"<@&{role}>\n{content}", MAX_CONTENT), (role,)
        else:
            content = f"*{safe_text(briefing.title)} (continued, part {number} of {len(groups)})*"
        if delivery_key is not None:
            shift = 1 if after_header else 0
            marker = delivery_marker(delivery_key, number + shift, len(groups) + shift)
            group = _mark(group, marker)
        messages.append(
            DiscordMessage(truncate(content, MAX_CONTENT), tuple(group), roles, tuple(buttons))
        )
    return messages


def render_story(detail: StoryDetail) -> DiscordMessage:
    """A drill-down as one embed: the headline (linked to the first report), the longer
    summary, then every article (outlet, linked headline, time); feed text made inert."""
    place = f"Story {detail.number}: " if detail.number else ""
    lead = detail.articles[0] if detail.articles else None
    embed: dict[str, Any] = {
        "type": "rich",
        "title": truncate(safe_text(place + detail.headline) or "Untitled", MAX_TITLE),
        "color": EMBED_COLOUR,
    }
    url = _web_url(lead.url if lead else None)
    if url:
        embed["url"] = url
    lines = [f"**Sources ({len(detail.articles)})**"]
    for article in detail.articles:
        stamp = f"{when(article.published_at, detail.timezone)} {detail.timezone}"
        name = truncate(safe_text(article.source), 100)
        lines.append(f"• **{name}** — {_link(article.title, article.url)} · {stamp}")
    summary = truncate(safe_text(detail.summary), 1500)
    description = f"{summary}\n\n" if summary else ""
    for index, line in enumerate(lines):
        more = f"\n+{len(lines) - index} more"
        if len(description) + len(line) + len(more) + 1 > MAX_DESCRIPTION:
            description += more.lstrip("\n") if description.endswith("\n") else more
            break
        description += line + "\n"
    embed["description"] = description.rstrip()
    return DiscordMessage("", (embed,))


def render_text(text: str) -> list[str]:
    """A core text reply as message contents of ≤2000 chars, split at line breaks."""
    text = neutralise_mentions(text.strip()) or "Done."
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > MAX_CONTENT:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:MAX_CONTENT])
            line = line[MAX_CONTENT:]
        candidate = line if not current else f"{current}\n{line}"
        if len(candidate) > MAX_CONTENT:
            chunks.append(current)
            candidate = line
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def message_nonce(delivery_key: str, part: int) -> str:
    """A stable ≤25-char nonce per (delivery, part): Discord then refuses duplicates."""
    return hashlib.sha256(f"{delivery_key}#{part}".encode()).hexdigest()[:25]


class DiscordPublisher:
    """Posts a briefing with the bot token through REST (``channel.send``).

    Each part carries a nonce derived from ``delivery_key``; discord.py then sets
    ``enforce_nonce`` so a quick retry returns the earlier message instead of posting
    twice. Discord keeps nonces only for a few minutes, so each part also ends its last
    footer with a delivery marker, and before posting the publisher reads the channel's
    recent history for the bot's own parts of this delivery and sends only the missing
    ones (after a crash and a long outage). discord.py itself waits out short 429s;
    anything else becomes a ``DeliveryError`` and the outbox decides whether to retry.
    """

    platform = "discord"

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def notify(self, ref: ChannelRef, text: str) -> None:
        """A plain notice (feed health), inert: markdown escaped, no mentions allowed."""
        channel = self._channel(ref)
        notice = DiscordMessage(safe_text(text)[:2000], ())
        await self._send(channel, notice, message_nonce(f"notice:{channel.id}:{text}", 0))

    def _channel(self, ref: ChannelRef) -> discord.PartialMessageable:
        """The REST handle of a channel; raises when the client cannot post (yet)."""
        if self._client.user is None:  # not logged in yet (start-up) or already closed
            raise DeliveryError("discord: the client is not connected yet", retry_after=15.0)
        try:
            channel_id = int(ref.channel)
            guild_id = int(ref.workspace) if ref.workspace else None
        except ValueError as exc:
            raise DeliveryError(f"discord: bad channel id {ref.channel!r}", permanent=True) from exc
        return self._client.get_partial_messageable(channel_id, guild_id=guild_id)

    async def publish(self, ref: ChannelRef, briefing: Briefing, delivery_key: str) -> list[str]:
        """Post every part not yet in the channel; return all parts' message ids, in order.

        In thread mode part 1 is a header, a thread is started on it, and the other
        parts go into that thread (whose id is the header's id).
        """
        user = dm_user(ref)  # a personal digest: `dm:<user>`
        channel = self._channel(ref) if user is None else await open_dm(self._client, user)
        target = channel
        messages = render_digest(briefing, delivery_key)
        done = await self._already_posted(channel, delivery_key)
        ids: list[str] = []
        for index, message in enumerate(messages):
            part = index + 1
            if briefing.threaded and part == 2:
                target = await self._open_thread(channel, int(ids[0]), thread_name(briefing))
                in_thread = await self._already_posted(target, delivery_key)
                done.update((k, v) for k, v in in_thread.items() if k > 1)
            if part in done:
                ids.append(done[part])
                continue
            ids.append(await self._send(target, message, message_nonce(delivery_key, index)))
        log.info(
            "discord: posted briefing channel=%s parts=%d (%d already there)",
            channel.id,
            len(ids),
            len(done),
        )
        return ids

    async def _open_thread(
        self, channel: discord.PartialMessageable, header_id: int, name: str
    ) -> discord.PartialMessageable:
        """Start the digest's thread on its header; one already there (a resume) is fine."""
        where = f"discord: channel {channel.id}"
        try:
            await self._client.http.start_thread_with_message(
                channel.id, header_id, name=name, auto_archive_duration=1440
            )
        except discord.Forbidden as exc:
            raise DeliveryError(
                f"{where}: cannot start a thread ({exc.status} {exc.text}); give the bot "
                "Create Public Threads, or turn thread mode off",
                channel_gone=True,
            ) from exc
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                permanent = 400 <= exc.status < 500 and exc.status != 429
                raise DeliveryError(
                    f"{where}: thread {exc.status} {exc.text}", permanent=permanent
                ) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"{where}: thread {type(exc).__name__}") from exc
        guild_id = channel.guild.id if channel.guild is not None else None
        return self._client.get_partial_messageable(header_id, guild_id=guild_id)

    async def _already_posted(
        self, channel: discord.PartialMessageable, delivery_key: str
    ) -> dict[int, str]:
        """Parts of this delivery among the bot's recent messages: part → message id.

        Without Read Message History the lookup is skipped and only the nonce guards a
        retry; a transient failure is retried by the outbox rather than risking a double.
        """
        me = self._client.user
        wanted = _key_digest(delivery_key)
        found: dict[int, str] = {}
        try:
            async for message in channel.history(limit=HISTORY_LOOKBACK):
                if me is None or message.author.id != me.id:
                    continue
                footers = [embed.footer.text or "" for embed in message.embeds]
                for text in (message.content, *footers):
                    marker = find_marker(text)
                    if marker is not None and marker[0] == wanted:
                        found.setdefault(marker[1], str(message.id))
        except discord.Forbidden:
            log.info("discord: no history access in channel=%s; nonce only", channel.id)
            return {}
        except discord.NotFound as exc:
            raise DeliveryError(
                f"discord: channel {channel.id}: {exc.status} {exc.text}", channel_gone=True
            ) from exc
        except (discord.HTTPException, TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"discord: channel {channel.id}: history {exc}") from exc
        return found

    async def _send(
        self, channel: discord.PartialMessageable, message: DiscordMessage, nonce: str
    ) -> str:
        where = f"discord: channel {channel.id}"
        extra: dict[str, Any] = {"view": message.view()} if message.buttons else {}
        try:
            sent = await channel.send(
                content=message.content or None,
                embeds=message.discord_embeds(),
                nonce=nonce,
                allowed_mentions=message.allowed_mentions(),
                **extra,
            )
        except discord.RateLimited as exc:
            raise DeliveryError(f"{where}: rate limited", retry_after=exc.retry_after) from exc
        except (discord.Forbidden, discord.NotFound) as exc:
            raise DeliveryError(f"{where}: {exc.status} {exc.text}", channel_gone=True) from exc
        except discord.HTTPException as exc:
            permanent = 400 <= exc.status < 500
            raise DeliveryError(f"{where}: {exc.status} {exc.text}", permanent=permanent) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}") from exc
        return str(sent.id)
