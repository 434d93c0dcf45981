"""Opt-in mentions: whom a channel's scheduled digest pings, read from `/briefing mention`.

Only an admin's explicit choice ever pings, and only one target: a Discord role, a Slack
user group, or Slack's ``@here``. ``@everyone``/``@channel`` are refused (that is what
``@here`` is for, without waking people who are away), and so is Discord's ``@everyone``
role. The adapters hand the target in their platform's own mention syntax
(``<@&id>``, ``<!subteam^id|@handle>``, ``<!here>``); nothing is looked up here.
"""

from __future__ import annotations

import re

from bot.core.models import ChannelRef, Mention
from bot.core.usage import UsageError, ref, say
from bot.errors import CommandError

MAX_LABEL = 100
OFF = frozenset({"off", "none", "stop", "clear"})

_DISCORD_ROLE = re.compile(r"^<@&(\d{1,20})>$|^(\d{1,20})$")
_SLACK_GROUP = re.compile(r"^<!subteam\^([A-Z0-9]{1,20})(?:\|([^>]{0,100}))?>$")
_SLACK_HERE = frozenset({"here", "@here", "<!here>", "<!here|here>", "<!here|@here>"})
_TOO_LOUD = frozenset({"everyone", "channel", "@everyone", "@channel", "<!channel>", "<!everyone>"})


def parse(channel: ChannelRef, text: str) -> Mention | None:
    """The target of ``/briefing mention <text>``: a ``Mention``, or None for ``off``.

    Raises ``CommandError`` (a ``UsageError`` when it can show the right command) for
    anything else, so a typo never pings the wrong people.
    """
    words = text.split()
    if not words:
        raise _usage()
    head, label = words[0], " ".join(words[1:])[:MAX_LABEL]
    if head.lower() in OFF:
        return None
    if head.lower() in _TOO_LOUD or head.lower().startswith(("<!channel", "<!everyone")):
        raise CommandError(
            "I won't ping everyone with each digest. Pick a role or user group"
            + (", or @here." if channel.platform == "slack" else ".")
        )
    if channel.platform == "discord":
        match = _DISCORD_ROLE.match(head)
        if match is None:
            raise _usage()
        role_id = match.group(1) or match.group(2)
        if role_id == channel.workspace:  # the @everyone role has the server's id
            raise CommandError("That role is everyone: I won't ping the whole server. Pick a role.")
        return Mention("role", role_id, label or f"role {role_id}")
    if channel.platform == "slack":
        if head.lower() in _SLACK_HERE:
            return Mention("here")
        group = _SLACK_GROUP.match(head)
        if group is not None:
            handle = group.group(2) or label or group.group(1)
            return Mention("group", group.group(1), "@" + handle.lstrip("@"))
        if head.startswith("@"):
            raise CommandError(
                f"I couldn't find a user group called {head[:MAX_LABEL]} in this workspace."
            )
        raise _usage()
    raise CommandError("Digest mentions are for Slack and Discord channels.")


def describe(mention: Mention | None) -> str:
    return f"{mention.shown} is pinged with each scheduled digest" if mention else "none"


def _usage() -> UsageError:
    return UsageError(say("Usage: ", ref("mention", role=""), " or ", ref("mention_off"), "."))


__all__ = ["MAX_LABEL", "describe", "parse"]
