"""Discord adapter: application commands in, neutral commands to the core, embeds out.

``/briefing [topic] [since]`` and ``/briefing-me [when] [timezone]`` (a personal digest
by DM) are for everyone; ``/briefing-admin …`` manages the channel. Discord hides the
admin group from members without Manage Channels (``default_member_permissions``), but
that is only a client-side default a server can override, so every command also carries
``can_manage`` computed here from the member's resolved permissions and the core
refuses management without it.

Every handler defers first (the 3-second window) and answers with follow-ups (valid
15 minutes). The first follow-up takes the defer's visibility, so the command is parsed
before deferring: only a briefing defers publicly. Help and usage texts use Discord's
own syntax (``DiscordSyntax``), and a stale or unknown command gets an ephemeral hint.
An interaction that expired before we acknowledged it is logged and dropped; it must
never take the client down. Only default intents are used.
"""

from __future__ import annotations

import logging
import os
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal, Protocol, cast

import discord
from discord import app_commands

from bot.chat.discord_login import point_at, start_client
from bot.chat.discord_render import DiscordPublisher as DiscordPublisher  # re-export
from bot.chat.discord_render import render_briefing, render_text, truncate
from bot.chat.discord_story import reply_kwargs, story_button_type
from bot.core.commands import expects_briefing
from bot.core.models import ChannelRef, FeedInfo, IncomingCommand, Reply
from bot.core.usage import Ref, words
from bot.errors import ConfigError

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong while preparing that. Please try again in a minute."
STALE = "That command has changed, try `/briefing`."
#: Shown by Discord as the default gate for the admin group; re-checked server-side.
ADMIN_DEFAULT_PERMISSIONS = discord.Permissions(manage_channels=True)


class Dispatcher(Protocol):
    """What the adapter needs from the core: ``CommandRouter`` satisfies it."""

    async def dispatch(self, cmd: IncomingCommand) -> Reply: ...

    async def story(self, ref: ChannelRef, story_id: int) -> Reply: ...


class FeedLister(Protocol):
    """Optional source of a channel's feeds, for ``unsubscribe`` autocomplete."""

    async def feeds(self, ref: ChannelRef | None = None) -> Sequence[FeedInfo]: ...


class DiscordSettingsLike(Protocol):
    """The ``[discord]`` config section as far as this adapter reads it."""

    @property
    def application_id(self) -> str: ...

    @property
    def guild_ids(self) -> list[str]: ...

    @property
    def shard_count(self) -> int: ...


class SettingsLike(Protocol):
    """``bot.config.Settings`` as far as this adapter reads it."""

    @property
    def discord(self) -> DiscordSettingsLike: ...


@dataclass(frozen=True)
class DiscordOptions:
    """How to run the bot. The token is kept out of ``repr`` and never logged."""

    token: str = field(repr=False)
    application_id: int | None = None
    guild_ids: tuple[int, ...] = ()
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    auto_shard: bool = False
    sync_on_start: bool = True
    guild_ready_timeout: float = 2.0
    max_ratelimit_timeout: float = 30.0
    admin_user_ids: frozenset[str] = frozenset()  # [chat] admin_user_ids
    story_defer_after: float = 1.5  # a "Sources" press slower than this is deferred
    api_base: str = ""  # [discord] api_base / gateway_url: test-only
    gateway_url: str = ""

    @property
    def sharded(self) -> bool:
        return self.auto_shard or self.shard_count is not None or bool(self.shard_ids)

    @classmethod
    def from_env(
        cls,
        settings: SettingsLike | DiscordSettingsLike | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> DiscordOptions:
        """Token from ``DISCORD_TOKEN``; ids and sharding from ``[discord]`` (the whole
        ``Settings`` or just its section)."""
        nested = getattr(settings, "discord", None)
        chat = getattr(settings, "chat", None)
        admins = frozenset(str(u) for u in getattr(chat, "admin_user_ids", ()) or ())
        section = cast("DiscordSettingsLike | None", settings if nested is None else nested)
        env = os.environ if env is None else env
        token = env.get("DISCORD_TOKEN", "").strip()
        if not token:
            raise ConfigError("config: [discord] needs the DISCORD_TOKEN environment variable")
        values: dict[str, Any] = {"token": token, "admin_user_ids": admins}
        if section is not None:
            try:
                if section.application_id:
                    values["application_id"] = int(section.application_id)
                values["guild_ids"] = tuple(int(g) for g in section.guild_ids)
            except ValueError as exc:
                raise ConfigError(
                    "config: [discord] application_id and guild_ids must be numeric ids"
                ) from exc
            if section.shard_count:
                values["shard_count"] = section.shard_count
            shard_ids = getattr(section, "shard_ids", None)
            if shard_ids:
                values["shard_ids"] = tuple(int(i) for i in shard_ids)
            values["api_base"] = str(getattr(section, "api_base", "") or "")
            values["gateway_url"] = str(getattr(section, "gateway_url", "") or "")
        values.update(overrides)
        return cls(**values)


class BriefbotClient(discord.Client):
    """A single-connection client that owns the command tree."""

    def __init__(self, options: DiscordOptions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await sync_dev_guilds(self.tree, self.options)


class ShardedBriefbotClient(discord.AutoShardedClient):
    """The same bot over several gateway shards, for large deployments."""

    def __init__(self, options: DiscordOptions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await sync_dev_guilds(self.tree, self.options)


async def sync_dev_guilds(tree: app_commands.CommandTree[Any], options: DiscordOptions) -> None:
    """Copy the commands to each development guild and sync there (instant, unlike global)."""
    if not options.sync_on_start:
        return
    for guild_id in options.guild_ids:
        guild = discord.Object(id=guild_id)
        tree.copy_global_to(guild=guild)
        try:
            synced = await tree.sync(guild=guild)
        except discord.HTTPException as exc:
            log.warning("discord: command sync failed guild=%s status=%s", guild_id, exc.status)
        else:
            log.info("discord: synced %d commands guild=%s", len(synced), guild_id)


def build_discord_client(
    router: Dispatcher, options: DiscordOptions, *, feeds: FeedLister | None = None
) -> BriefbotClient | ShardedBriefbotClient:
    """The configured client with ``/briefing`` and ``/briefing-admin`` registered."""
    kwargs: dict[str, Any] = {
        "intents": discord.Intents.default(),
        "allowed_mentions": discord.AllowedMentions.none(),
        "application_id": options.application_id,
        "guild_ready_timeout": options.guild_ready_timeout,
        "max_ratelimit_timeout": options.max_ratelimit_timeout,
    }
    client: BriefbotClient | ShardedBriefbotClient
    if options.sharded:
        shard_ids = list(options.shard_ids) if options.shard_ids else None
        client = ShardedBriefbotClient(
            options, shard_count=options.shard_count, shard_ids=shard_ids, **kwargs
        )
    else:
        client = BriefbotClient(options, **kwargs)
    register_commands(client.tree, router, feeds)
    client.add_dynamic_items(story_button_type(router, options.story_defer_after))
    return client


async def run_discord(
    client: discord.Client,
    options: DiscordOptions,
    *,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Check the token, log in and hold the gateway connection(s) until closed.

    A refused token raises ConfigError; an unreachable API raises ``Unavailable``
    (``bot.chat.startup``), which ``briefbot run`` retries with backoff.
    """
    point_at(options.api_base, options.gateway_url)
    await start_client(client, options.token, on_ready=on_ready)


# -- commands -----------------------------------------------------------------------------
def register_commands(
    tree: app_commands.CommandTree[Any], router: Dispatcher, feeds: FeedLister | None = None
) -> None:
    """Add the public command and the admin group to ``tree``."""

    @app_commands.command(name="briefing", description="Top news stories now")
    @app_commands.describe(
        topic="Only stories about these words", since="Time window, e.g. 6h or 2d"
    )
    async def briefing(
        interaction: discord.Interaction, topic: str | None = None, since: str | None = None
    ) -> None:
        # The core reads "<topic words> last <window>" (the window comes last).
        text = (topic or "").strip()
        window = (since or "").strip().removeprefix("last ").strip()
        if window:
            text = f"{text} last {window}".strip()
        await answer(interaction, router, text, admin=False)

    @app_commands.command(name="briefing-story", description="Every source of one story")
    @app_commands.describe(n="The story's number in this channel's last briefing")
    async def story(interaction: discord.Interaction, n: app_commands.Range[int, 1, 1000]) -> None:
        await answer(interaction, router, f"story {n}", admin=False)

    admin = app_commands.Group(
        name="briefing-admin",
        description="Manage this channel's briefing: feeds, topics, schedule",
        default_permissions=ADMIN_DEFAULT_PERMISSIONS,
        guild_only=True,
    )

    @admin.command(name="subscribe", description="Add a feed to this channel")
    @app_commands.describe(url="RSS or Atom feed URL")
    async def subscribe(interaction: discord.Interaction, url: str) -> None:
        await answer(interaction, router, f"subscribe {url.strip()}", admin=True)

    @admin.command(name="unsubscribe", description="Remove a feed from this channel")
    @app_commands.describe(feed="Feed URL or id")
    async def unsubscribe(interaction: discord.Interaction, feed: str) -> None:
        await answer(interaction, router, f"unsubscribe {feed.strip()}", admin=True)

    @unsubscribe.autocomplete("feed")
    async def feed_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if feeds is None or not can_manage(interaction):
            return []
        infos = await feeds.feeds(channel_ref(interaction))
        return feed_suggestions(infos, current)

    @admin.command(name="feeds", description="List this channel's feeds and their health")
    async def feeds_cmd(interaction: discord.Interaction) -> None:
        await answer(interaction, router, "feeds", admin=True)

    @admin.command(name="topics", description="Show, add or remove this channel's topic words")
    @app_commands.describe(action="list, add or remove", words="Topic words (a -word excludes)")
    @app_commands.choices(
        action=[app_commands.Choice(name=a, value=a) for a in ("list", "add", "remove", "clear")]
    )
    async def topics(
        interaction: discord.Interaction, action: str = "list", words: str | None = None
    ) -> None:
        text = f"topics {action} {(words or '').strip()}".strip()
        await answer(interaction, router, text, admin=True)

    @admin.command(name="schedule", description="Set the daily digest time, or turn it off")
    @app_commands.describe(
        when="e.g. 'weekdays 08:00', 'daily 07:30', a 5-field cron, or 'off'",
        timezone="IANA time zone, e.g. Europe/Kyiv",
    )
    async def schedule(
        interaction: discord.Interaction, when: str, timezone: str | None = None
    ) -> None:
        text = f"schedule {when.strip()}"
        if timezone and timezone.strip() and when.strip().lower() != "off":
            text += f" {timezone.strip()}"
        await answer(interaction, router, text, admin=True)

    @schedule.autocomplete("timezone")
    async def timezone_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_suggestions(current)

    @admin.command(name="settings", description="Show this channel's briefing settings")
    async def settings_cmd(interaction: discord.Interaction) -> None:
        await answer(interaction, router, "settings", admin=True)

    @admin.command(name="mute", description="Mute words or an outlet in this channel")
    @app_commands.describe(words="Words to mute (whole words)", source="Outlet name to mute")
    async def mute(
        interaction: discord.Interaction, words: str | None = None, source: str | None = None
    ) -> None:
        await answer(interaction, router, _mute_text("mute", words, source), admin=True)

    @admin.command(name="unmute", description="Unmute words or an outlet in this channel")
    @app_commands.describe(words="Words to unmute", source="Outlet name to unmute")
    async def unmute(
        interaction: discord.Interaction, words: str | None = None, source: str | None = None
    ) -> None:
        await answer(interaction, router, _mute_text("unmute", words, source), admin=True)

    @admin.command(name="mention", description="Ping a role with each scheduled digest")
    @app_commands.describe(role="The role to ping", off="Ping no one")
    async def mention(
        interaction: discord.Interaction, role: discord.Role | None = None, off: bool = False
    ) -> None:
        await answer(interaction, router, _mention_text(role, off), admin=True)

    @admin.command(name="threads", description="Post digests as a header with a thread")
    @app_commands.describe(state="on: stories in a thread under a short header; off: inline")
    async def threads(interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        await answer(interaction, router, f"threads {state}", admin=True)

    @app_commands.command(name="briefing-me", description="Your own digest by direct message")
    @app_commands.describe(
        when="e.g. 'daily 07:30', 'weekdays 08:00', a 5-field cron, or 'off'",
        timezone="IANA time zone, e.g. Europe/Kyiv",
    )
    async def briefing_me(
        interaction: discord.Interaction, when: str | None = None, timezone: str | None = None
    ) -> None:
        await answer(interaction, router, _me_text(when, timezone), admin=False)

    @briefing_me.autocomplete("timezone")
    async def my_timezone_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_suggestions(current)

    tree.add_command(briefing)
    tree.add_command(story)
    tree.add_command(admin)
    tree.add_command(briefing_me)
    tree.error(StaleCommands().on_error)


def _mute_text(verb: str, words: str | None, source: str | None) -> str:
    """The text grammar of a ``mute``/``unmute`` interaction (an outlet wins)."""
    if source and source.strip():
        return f"{verb} source {source.strip()}"
    return f"{verb} {(words or '').strip()}".strip()


def _me_text(when: str | None, timezone: str | None) -> str:
    """The text grammar of ``/briefing-me``: ``me [when [tz]]`` (no time zone with off)."""
    text = f"me {(when or '').strip()}".strip()
    if text != "me" and timezone and timezone.strip() and text.lower() != "me off":
        text += f" {timezone.strip()}"
    return text


def _mention_text(role: discord.Role | None, off: bool) -> str:
    """The text grammar of a ``mention`` interaction: the role's id, then its name."""
    if off:
        return "mention off"
    return f"mention <@&{role.id}> @{role.name}" if role is not None else "mention"


@dataclass(frozen=True)
class DiscordSyntax:
    """Commands as Discord shows them: ``/briefing-admin subscribe url:<feed url>``."""

    def command(self, mention: Ref) -> str:
        spec = mention.spec
        parts = [f"/{spec.command}"]
        if spec.subcommand:
            parts.append(spec.subcommand)
        parts += [f"{name}:{value}" for name, value in spec.fixed]
        for arg, value in mention.shown():
            parts.append(f"{arg.name}:{value or '<' + arg.placeholder + '>'}")
        return "`" + " ".join(parts) + "`"


DISCORD = DiscordSyntax()


class StaleCommands:
    """``tree.on_error``: a command this version does not know (renamed, removed, or a
    client still showing an old registration) gets an ephemeral hint instead of
    "The application did not respond"; logged once per command version (its id)."""

    def __init__(self) -> None:
        self._logged: set[tuple[str, str]] = set()

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        stale = (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)
        if not isinstance(error, stale):
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("discord: command /%s failed: %s", name, error, exc_info=error)
            return
        data = cast("dict[str, Any]", interaction.data or {})
        key = (str(data.get("name", "?")), str(data.get("id", "?")))
        if key not in self._logged:
            self._logged.add(key)
            log.warning(
                "discord: /%s (command id %s) is not a command this version knows; "
                "answered with a hint (logged once)",
                *key,
            )
        if interaction.type is not discord.InteractionType.application_command:
            return  # autocomplete for a stale command: nothing to show
        none = discord.AllowedMentions.none()
        try:
            if interaction.response.is_done():
                await interaction.followup.send(STALE, ephemeral=True, allowed_mentions=none)
            else:
                await interaction.response.send_message(
                    STALE, ephemeral=True, allowed_mentions=none
                )
        except discord.HTTPException as exc:
            log.warning("discord: could not answer a stale command (status=%s)", exc.status)


def can_manage(interaction: discord.Interaction) -> bool:
    """Manage Server or Manage Channels, from the permissions Discord resolved for the
    member, or a user listed in ``[chat] admin_user_ids``."""
    options = getattr(interaction.client, "options", None)
    if isinstance(options, DiscordOptions) and str(interaction.user.id) in options.admin_user_ids:
        return True
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    return perms.administrator or perms.manage_guild or perms.manage_channels


def channel_ref(interaction: discord.Interaction) -> ChannelRef:
    return ChannelRef(
        platform="discord",
        channel=str(interaction.channel_id or ""),
        workspace=str(interaction.guild_id or ""),
    )


def feed_suggestions(infos: Sequence[FeedInfo], current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 feeds whose title or URL contains what the user typed."""
    needle = current.strip().lower()
    choices = []
    for info in infos:
        label = f"{info.title} — {info.url}" if info.title else info.url
        if needle and needle not in label.lower():
            continue
        choices.append(app_commands.Choice(name=truncate(label, 100), value=str(info.id)))
    return choices[:25]


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def timezone_suggestions(current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 IANA zones matching the typed text (prefix matches first)."""
    needle = current.strip().lower().replace(" ", "_")
    zones = _zones()
    prefix = [z for z in zones if z.lower().startswith(needle)]
    inner = [z for z in zones if needle in z.lower() and z not in prefix]
    return [app_commands.Choice(name=z, value=z) for z in (prefix + inner)[:25]]


async def answer(
    interaction: discord.Interaction, router: Dispatcher, text: str, *, admin: bool
) -> None:
    """Defer, run the command through the core, follow up with the reply.

    The first follow-up after a defer takes the defer's visibility, so it is decided
    before deferring: only a briefing is public; help, usage errors and management
    replies are private. A public briefing that turns out empty (or fails) deletes its
    placeholder and answers privately.
    """
    public = not admin and expects_briefing(text)
    if not await _defer(interaction, ephemeral=not public):
        return
    ref = channel_ref(interaction)
    cmd = IncomingCommand(
        platform="discord",
        channel=ref.channel,
        workspace=ref.workspace,
        user=str(interaction.user.id),
        text=text,
        can_manage=can_manage(interaction),
    )
    try:
        reply = await router.dispatch(cmd)
    except Exception:
        log.exception("discord: command failed channel=%s text=%r", ref.channel, text[:80])
        reply = Reply(text=APOLOGY, ephemeral=True, ok=False)
    if public and reply.briefing is None:
        await _delete_placeholder(interaction)
        reply = replace(reply, ephemeral=True)
    await send_reply(interaction, reply)


async def _delete_placeholder(interaction: discord.Interaction) -> None:
    """Remove the public "thinking…" message, so the next follow-up can be private."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as exc:
        msg = "discord: could not delete the placeholder of interaction %s (status=%s code=%s)"
        log.warning(msg, interaction.id, exc.status, exc.code)


async def _defer(interaction: discord.Interaction, *, ephemeral: bool) -> bool:
    try:
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    except discord.NotFound as exc:
        msg = "discord: interaction %s expired before it was acknowledged (code=%s); dropped"
        log.warning(msg, interaction.id, exc.code)
        return False
    except discord.HTTPException as exc:
        msg = "discord: could not acknowledge interaction %s (status=%s code=%s)"
        log.warning(msg, interaction.id, exc.status, exc.code)
        return False
    return True


async def send_reply(interaction: discord.Interaction, reply: Reply) -> None:
    """The reply as follow-ups: a briefing as embeds (several messages if long), else text."""
    sends: list[dict[str, Any]] = []
    if reply.briefing is not None:
        for message in render_briefing(reply.briefing):
            kwargs: dict[str, Any] = {"embeds": message.discord_embeds()}
            if message.content:
                kwargs["content"] = message.content
            if message.buttons:
                kwargs["view"] = message.view()
            sends.append(kwargs)
    elif reply.story is not None:
        sends = [reply_kwargs(reply)]
    else:
        text = words(reply.text, reply.say, DISCORD)  # Discord's own command syntax
        sends = [{"content": chunk} for chunk in render_text(text)]
    none = discord.AllowedMentions.none()
    for kwargs in sends:
        try:
            await interaction.followup.send(
                ephemeral=reply.ephemeral, allowed_mentions=none, **kwargs
            )
        except discord.NotFound as exc:
            msg = "discord: follow-up for interaction %s came too late (code=%s); dropped"
            log.warning(msg, interaction.id, exc.code)
            return
        except discord.HTTPException as exc:
            msg = "discord: follow-up refused interaction=%s status=%s code=%s: %s"
            log.error(msg, interaction.id, exc.status, exc.code, exc.text)
            return
