"""The `/briefing` grammar, shared by every chat adapter.

    /briefing                      the latest briefing for this channel
    /briefing ukraine energy       only stories mentioning one of the words
    /briefing last 6h              a different window (m, h, d, w)
    /briefing story 2              every article of story 2 of the last briefing here
    /briefing help                 what follows
    management (admins): subscribe <url> · unsubscribe <url|id> · feeds ·
    topics add|remove <words> · schedule <when> [tz] · schedule off · settings ·
    mute <words> · mute source <outlet> · unmute <words> · unmute source <outlet> ·
    mention <@role|@group|here> · mention off · threads on|off
    for anyone: me <when> [tz] · me off        a personal digest by direct message

The router never raises for user input: a ``CommandError`` becomes a polite reply, any
other failure is logged with its traceback and the user gets a short apology.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from bot.core import drilldown, mentions, mutes, personal
from bot.core.briefing import BriefingService
from bot.core.feed_added import discovery_lines, summary
from bot.core.models import ChannelRef, ChannelSettings, FeedInfo, IncomingCommand, Reply
from bot.core.ports import ChannelStore, FeedRegistry, StoryArchive
from bot.core.schedule import EXAMPLES, check_timezone, describe, parse_schedule
from bot.core.usage import Say, UsageError, help_say, say
from bot.core.usage import ref as mention
from bot.errors import CommandError

log = logging.getLogger(__name__)

_WINDOW = re.compile(r"^(\d{1,4})\s*(m|min|mins|h|hr|hrs|hours?|d|days?|w|weeks?)$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_WINDOW = timedelta(days=31)
MANAGEMENT = {
    "subscribe",
    "unsubscribe",
    "feeds",
    "topics",
    "schedule",
    "settings",
    "mute",
    "unmute",
    "mention",
    "threads",
}

ScheduleHook = Callable[[ChannelSettings], Awaitable[None]]
#: The answer to `/briefing status` for a channel (composed where the store is known).
StatusHook = Callable[[ChannelRef], Awaitable[str]]


def parse_window(text: str) -> timedelta:
    match = _WINDOW.match(text.strip().lower())
    if match is None:
        raise UsageError(
            say(
                f"I didn't understand “last {text.strip()}”. Try ",
                mention("briefing", since="30m"),
                ", ",
                mention("briefing", since="6h"),
                " or ",
                mention("briefing", since="2d"),
                ".",
            )
        )
    amount = int(match.group(1))
    window = timedelta(seconds=amount * _UNITS[match.group(2)[0]])
    if window <= timedelta(0):
        raise CommandError("The window must be longer than zero.")
    if window > MAX_WINDOW:
        raise UsageError(
            say("The longest window I keep is 31 days (", mention("briefing", since="31d"), ").")
        )
    return window


def _split_window(text: str) -> tuple[str, timedelta | None]:
    """Separate ``last 6h`` (anywhere at the end) from topic words."""
    words = text.split()
    lowered = [w.lower() for w in words]
    for marker in ("last", "since", "past"):
        if marker in lowered:
            at = lowered.index(marker)
            window = parse_window(" ".join(words[at + 1 :]) or "?")
            return " ".join(words[:at]), window
    return text, None


def _feed_line(feed: FeedInfo) -> str:
    health = "never fetched"
    if feed.last_error:
        health = f"⚠ {feed.last_error} (failures: {feed.failure_count})"
    elif feed.last_fetch:
        health = f"ok, last fetch {feed.last_fetch:%d %b %H:%M} UTC"
    title = f"{feed.title} — " if feed.title else ""
    return f"• [{feed.id}] {title}{feed.url} — {feed.items} items, {health}"


class CommandRouter:
    """Turns an ``IncomingCommand`` into a ``Reply``; the one entry point for adapters."""

    def __init__(
        self,
        briefings: BriefingService,
        channels: ChannelStore,
        feeds: FeedRegistry,
        *,
        default_window: timedelta = timedelta(hours=24),
        on_schedule_change: ScheduleHook | None = None,
        status: StatusHook | None = None,
        archive: StoryArchive | None = None,
    ) -> None:
        self._status = status
        self._archive = archive
        self._briefings = briefings
        self._channels = channels
        self._feeds = feeds
        self._default_window = default_window
        self._on_schedule_change = on_schedule_change

    async def dispatch(self, cmd: IncomingCommand) -> Reply:
        try:
            return await self._dispatch(cmd)
        except CommandError as exc:
            return _refusal(exc)
        except Exception:
            log.exception(
                "command failed: platform=%s channel=%s text=%r",
                cmd.platform,
                cmd.channel,
                cmd.text,
            )
            return Reply(
                text="Sorry, something went wrong on my side. Please try again in a minute.",
                ephemeral=True,
                ok=False,
            )

    async def story(self, ref: ChannelRef, story_id: int) -> Reply:
        """A "Sources (N)" button press: story ``story_id`` in full, for this channel.
        Like ``dispatch`` it never raises; a story that is gone gets a clear answer."""
        try:
            if self._archive is None:
                return drilldown.reply(None)
            settings = await self._channels.channel(ref)
            return drilldown.reply(await drilldown.by_id(self._archive, settings, story_id))
        except CommandError as exc:
            return _refusal(exc)
        except Exception:
            log.exception("story drill-down failed: channel=%s story=%s", ref.channel, story_id)
            return Reply(
                text="Sorry, something went wrong on my side. Please try again in a minute.",
                ephemeral=True,
                ok=False,
            )

    async def _dispatch(self, cmd: IncomingCommand) -> Reply:
        text = " ".join(cmd.text.split())
        head, _, rest = text.partition(" ")
        verb = head.lower()
        if verb in {"help", "?", "-h", "--help"}:
            return _reply(self.help_say(), ephemeral=True)
        ref = ChannelRef(cmd.platform, cmd.channel, cmd.workspace)
        if verb == "story":
            number = drilldown.parse_number(rest)
            if self._archive is None:
                return drilldown.reply(None)
            settings = await self._channels.channel(ref)
            return drilldown.reply(await drilldown.by_number(self._archive, settings, number))
        if verb == "status" and not rest and self._status is not None:
            return _reply(say(await self._status(ref)), ephemeral=True)
        if verb == "me":
            return await self._personal(cmd, ref, rest.strip())
        if verb in MANAGEMENT:
            if not cmd.can_manage:
                raise UsageError(
                    say(
                        "Sorry, only admins can change this channel's feeds, topics and "
                        "schedule. Ask an admin, or try ",
                        mention("help"),
                        ".",
                    )
                )
            return await self._manage(ref, verb, rest.strip())
        return await self._briefing(ref, text)

    def help_say(self) -> Say:
        """The help as meaning; each adapter words it (``Say.words``)."""
        hours = self._default_window.total_seconds() / 3600
        window = f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"
        return help_say(window, EXAMPLES)

    def help_text(self) -> str:
        return self.help_say().words()

    async def _briefing(self, ref: ChannelRef, text: str) -> Reply:
        topic, window = _split_window(text)
        if text and not re.search(r"\w", topic) and window is None:
            raise UsageError(
                say(
                    f"I didn't understand “{text}”. Type ",
                    mention("help"),
                    " to see what I can do.",
                )
            )
        settings = await self._channels.channel(ref)
        feed_ids = await self._feeds.feed_ids(ref)
        briefing = await self._briefings.compose(
            timezone=settings.timezone,
            window=window or self._default_window,
            topic=topic,
            channel_topics=settings.topics,
            max_stories=settings.max_stories,
            feed_ids=feed_ids or None,  # a channel without feeds sees every source
            mutes=mutes.of(settings),
        )
        if not briefing.items:
            span = window or self._default_window
            about = f" about “{topic.strip()}”" if topic.strip() else ""
            message = say(
                f"Nothing new{about} in the last {_human(span)}. Try a longer window, e.g. ",
                mention("briefing", since="2d"),
                ".",
            )
            return _reply(message, ephemeral=True)
        if self._archive is not None:  # what `/briefing story <n>` counts from
            await self._archive.remember(ref, [i.story_id for i in briefing.items if i.story_id])
        return Reply(briefing=briefing)

    async def _manage(self, ref: ChannelRef, verb: str, rest: str) -> Reply:
        if verb == "subscribe":
            if not rest:
                raise UsageError(say("Usage: ", mention("subscribe", url="")))
            added = await self._feeds.subscribe(ref, rest.split()[0].strip("<>"))
            feed = added.feed
            done = f"Subscribed this channel to {feed.url} (feed {feed.id}): {summary(added)}"
            extra = "".join(f"\n{line}" for line in discovery_lines(added))
            if not added.warning:
                return Reply(text=done + extra, ephemeral=True)
            note = say(f"{done}{extra}\n", mention("feeds"), " shows its health.")
            return _reply(note, ephemeral=True)
        if verb == "unsubscribe":
            if not rest:
                raise UsageError(say("Usage: ", mention("unsubscribe", feed="")))
            feed = await self._feeds.unsubscribe(ref, rest.split()[0].strip("<>"))
            return Reply(text=f"Unsubscribed this channel from {feed.url}.", ephemeral=True)
        if verb == "feeds" and rest.lower().startswith("retry"):
            target = rest[len("retry") :].strip()
            if not target:
                raise UsageError(say("Usage: ", mention("feeds"), " retry <feed id>"))
            feed = await self._feeds.retry(target)
            return Reply(
                text=f"Feed [{feed.id}] {feed.title or feed.url} is back in the queue: "
                "I'll fetch it within a minute.",
                ephemeral=True,
            )
        if verb == "feeds":
            feeds = await self._feeds.feeds(ref)
            if not feeds:
                message = say(
                    "This channel has no feeds yet. Add one with ",
                    mention("subscribe", url=""),
                    ".",
                )
                return _reply(message, ephemeral=True)
            lines = "\n".join(_feed_line(f) for f in feeds)
            return Reply(text=f"Feeds of this channel:\n{lines}", ephemeral=True)
        if verb == "topics":
            return await self._topics(ref, rest)
        if verb == "schedule":
            return await self._schedule(ref, rest)
        if verb in {"mute", "unmute"}:
            return await self._mute(ref, verb, rest)
        if verb == "mention":
            return await self._mention(ref, rest)
        if verb == "threads":
            return await self._threads(ref, rest)
        return Reply(text=await self._settings_text(ref), ephemeral=True)

    async def _topics(self, ref: ChannelRef, rest: str) -> Reply:
        action, _, words_text = rest.partition(" ")
        action = action.lower()
        settings = await self._channels.channel(ref)
        if action in {"", "list"}:
            shown = ", ".join(settings.topics) or "none (all stories)"
            return Reply(text=f"Topics of this channel: {shown}", ephemeral=True)
        words = [w.lower() for w in words_text.replace(",", " ").split()]
        if action not in {"add", "remove", "clear"} or (action != "clear" and not words):
            raise UsageError(
                say(
                    "Usage: ",
                    mention("topics_add", words=""),
                    " or ",
                    mention("topics_remove", words=""),
                )
            )
        if action == "add":
            topics = tuple(dict.fromkeys([*settings.topics, *words]))
        elif action == "remove":
            topics = tuple(t for t in settings.topics if t not in words)
        else:
            topics = ()
        if len(topics) > 50:
            raise CommandError("A channel can have at most 50 topics.")
        await self._channels.save_channel(replace(settings, topics=topics))
        shown = ", ".join(topics) or "none (all stories)"
        return Reply(text=f"Topics of this channel: {shown}", ephemeral=True)

    async def _mute(self, ref: ChannelRef, verb: str, rest: str) -> Reply:
        settings = await self._channels.channel(ref)
        current = mutes.of(settings)
        head, _, tail = rest.partition(" ")
        by_source = head.lower() in {"source", "outlet"}
        target = tail if by_source else rest
        if not target.strip():
            if verb == "mute" and not rest:
                return Reply(text=_mutes_text(current), ephemeral=True)
            key = verb + ("_source" if by_source else "")
            raise UsageError(
                say("Usage: ", mention(key, **({"source": ""} if by_source else {"words": ""})))
            )
        if by_source:
            change = {"sources": [mutes.source_name(target)]}
        else:
            found = mutes.mute_words(target)
            if not found:
                raise UsageError(say("Usage: ", mention(verb, words="")))
            change = {"words": found}
        updated = (
            mutes.add(current, **change) if verb == "mute" else mutes.remove(current, **change)
        )
        await self._channels.save_channel(
            replace(settings, muted_words=updated.words, muted_sources=updated.sources)
        )
        return Reply(text=_mutes_text(updated), ephemeral=True)

    async def _mention(self, ref: ChannelRef, rest: str) -> Reply:
        settings = await self._channels.channel(ref)
        if not rest:
            shown = mentions.describe(settings.mention)
            return Reply(text=f"Digest mention: {shown}.", ephemeral=True)
        chosen = mentions.parse(ref, rest)
        await self._channels.save_channel(replace(settings, mention=chosen))
        if chosen is None:
            return Reply(text="Scheduled digests here ping no one now.", ephemeral=True)
        return Reply(
            text=f"Each scheduled digest here will ping {chosen.shown}; "
            "on-demand briefings and feed text never ping anyone.",
            ephemeral=True,
        )

    async def _threads(self, ref: ChannelRef, rest: str) -> Reply:
        settings = await self._channels.channel(ref)
        choice = rest.strip().lower()
        if choice not in {"on", "off"}:
            state = "on" if settings.threads else "off"
            return _reply(
                say(f"Thread mode is {state} here. ", mention("threads", state="on|off"), "."),
                ephemeral=True,
            )
        await self._channels.save_channel(replace(settings, threads=choice == "on"))
        if choice == "on":
            text = (
                "Thread mode on: each scheduled digest posts a short header here, "
                "and its stories follow in the header's thread."
            )
        else:
            text = "Thread mode off: scheduled digests post their stories in the channel."
        return Reply(text=text, ephemeral=True)

    async def _schedule(self, ref: ChannelRef, rest: str) -> Reply:
        settings = await self._channels.channel(ref)
        if rest.lower() in {"off", "none", "stop"}:
            updated = replace(settings, schedule=None)
            message = "Scheduled digests are off for this channel."
        elif not rest:
            current = describe(settings.schedule) if settings.schedule else "off"
            current_say = say(
                f"Digest schedule: {current} ({settings.timezone}). Change it with ",
                mention("schedule", when="", timezone=""),
                f", e.g. {EXAMPLES}.",
            )
            return _reply(current_say, ephemeral=True)
        else:
            schedule = parse_schedule(rest.split())
            updated = replace(
                settings, schedule=schedule.cron, timezone=schedule.timezone or settings.timezone
            )
            message = (
                f"Digest scheduled: {describe(schedule.cron)} ({updated.timezone}). "
                "Each digest covers the stories since the previous one."
            )
        await self._channels.save_channel(updated)
        if self._on_schedule_change is not None:
            await self._on_schedule_change(updated)
        return Reply(text=message, ephemeral=True)

    async def _personal(self, cmd: IncomingCommand, origin: ChannelRef, rest: str) -> Reply:
        """`/briefing me …`: the user's own digest by direct message (no admin needed)."""
        if cmd.platform not in personal.DM_PLATFORMS:
            raise CommandError(personal.NO_DMS)  # before touching the store
        current = await self._channels.channel(personal.dm_ref(cmd))
        updated, message = personal.change(cmd, current, await self._channels.channel(origin), rest)
        if updated is not None:
            await self._channels.save_channel(updated)
            if self._on_schedule_change is not None:
                await self._on_schedule_change(updated)
        return _reply(message, ephemeral=True)

    async def _settings_text(self, ref: ChannelRef) -> str:
        settings = await self._channels.channel(ref)
        feeds = await self._feeds.feeds(ref)
        schedule = describe(settings.schedule) if settings.schedule else "off"
        return "\n".join(
            [
                "Settings of this channel:",
                f"• time zone: {settings.timezone}",
                f"• digest schedule: {schedule}",
                f"• topics: {', '.join(settings.topics) or 'none (all stories)'}",
                f"• feeds: {len(feeds)}",
                f"• stories per briefing: {settings.max_stories or 'default'}",
                f"• muted words: {', '.join(settings.muted_words) or 'none'}",
                f"• muted outlets: {', '.join(settings.muted_sources) or 'none'}",
                f"• digest mention: {mentions.describe(settings.mention)}",
                f"• thread mode: {'on' if settings.threads else 'off'}",
            ]
        )


def _mutes_text(current: mutes.Mutes) -> str:
    return (
        f"Muted words: {', '.join(current.words) or 'none'}\n"
        f"Muted outlets: {', '.join(current.sources) or 'none'}"
    )


def _refusal(exc: CommandError) -> Reply:
    message = exc.say if isinstance(exc, UsageError) else None
    return Reply(text=str(exc), ephemeral=True, ok=False, say=message)


def _reply(message: Say, *, ephemeral: bool) -> Reply:
    """A text reply that mentions commands: default wording plus the meaning."""
    return Reply(text=message.words(), ephemeral=ephemeral, say=message)


def expects_briefing(text: str) -> bool:
    """Whether ``text`` asks for a briefing (not help, management or a usage error);
    cheap, no I/O: an adapter decides from it whether its placeholder is public."""
    text = " ".join(text.split())
    verb = text.partition(" ")[0].lower()
    if (
        verb in {"help", "?", "-h", "--help", "story", "me"}
        or verb in MANAGEMENT
        or text.lower() == "status"
    ):
        return False
    try:
        topic, window = _split_window(text)
    except CommandError:
        return False
    return not text or bool(re.search(r"\w", topic)) or window is not None


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        days = seconds // 86400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour" + ("s" if hours != 1 else "")
    minutes = max(1, seconds // 60)
    return f"{minutes} minute" + ("s" if minutes != 1 else "")


__all__ = ["CommandRouter", "check_timezone", "parse_window"]
