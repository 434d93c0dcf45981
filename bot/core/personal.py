"""Personal digests: `/briefing me <when> [tz]` sends one user the digest by direct message.

A personal digest is a ``channels`` row whose channel is ``dm:<user id>`` (same platform
and workspace as where the user asked), so the outbox's claim, snapshot, resume and
dead-delivery rules apply to it unchanged; publishers open the DM when they see the
prefix. It follows the channel the command was typed in (``origin``): that channel's
feeds, topics, mutes and size at each delivery, in the user's own time zone, and it
never pings anyone. Any user may set their own: it changes nothing others see.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.models import ChannelRef, ChannelSettings, IncomingCommand
from bot.core.schedule import EXAMPLES, describe, parse_schedule
from bot.core.usage import Say, UsageError, ref, say
from bot.errors import CommandError

DM_PREFIX = "dm:"
#: Platforms with direct messages (the terminal and webhooks have none).
DM_PLATFORMS = frozenset({"slack", "discord"})

NO_DMS = (
    "Personal digests arrive by direct message, and the terminal has none: "
    "set one up from Slack or Discord. Here, type /briefing for the latest briefing."
)


def dm_ref(cmd: IncomingCommand) -> ChannelRef:
    """Where ``cmd``'s user gets their personal digest."""
    return ChannelRef(cmd.platform, DM_PREFIX + cmd.user, cmd.workspace)


def dm_user(ref: ChannelRef) -> str | None:
    """The user a ``dm:<user id>`` target means, or None for an ordinary channel."""
    if not ref.channel.startswith(DM_PREFIX):
        return None
    return ref.channel[len(DM_PREFIX) :] or None


def _state(settings: ChannelSettings) -> Say:
    if not settings.schedule:
        return say(
            "Your personal digest is off. Get one by direct message with ",
            ref("me", when="", timezone=""),
            f", e.g. {EXAMPLES}.",
        )
    paused = (
        f" It is paused: {settings.paused_reason}. Set it again once I can message you."
        if settings.paused_reason
        else ""
    )
    return say(
        f"Your personal digest: {describe(settings.schedule)} ({settings.timezone}), "
        f"by direct message.{paused} Turn it off with ",
        ref("me_off"),
        ".",
    )


def change(
    cmd: IncomingCommand, current: ChannelSettings, origin: ChannelSettings, rest: str
) -> tuple[ChannelSettings | None, Say]:
    """The updated personal digest (None: nothing to save) and the reply's text.

    ``current`` is the user's ``dm:`` row, ``origin`` the channel the command came from
    (its time zone is the default for a first schedule without one).
    """
    if cmd.platform not in DM_PLATFORMS:
        raise CommandError(NO_DMS)
    if not cmd.user:
        raise CommandError("I could not tell who you are, so I cannot message you.")
    words = rest.split()
    if not words:
        return None, _state(current)
    if rest.lower() in {"off", "none", "stop"}:
        if not current.schedule:
            return None, say("Your personal digest is already off.")
        return replace(current, schedule=None), say("Your personal digest is off.")
    try:
        schedule = parse_schedule(words)
    except CommandError as exc:
        raise UsageError(
            say(f"{exc} Usage: ", ref("me", when="", timezone=""), " or ", ref("me_off"))
        ) from None
    timezone = schedule.timezone or (current.timezone if current.schedule else origin.timezone)
    updated = replace(current, schedule=schedule.cron, timezone=timezone, origin=origin.ref)
    return updated, say(
        f"Personal digest scheduled: {describe(schedule.cron)} ({timezone}). I'll send it to "
        "you by direct message, with this channel's feeds, topics and mutes; each covers "
        "the stories since the previous one. Turn it off with ",
        ref("me_off"),
        ".",
    )
