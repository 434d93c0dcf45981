"""`/briefing mention @handle` on Slack: find the user group the admin named.

The slash command is registered without escaping (``should_escape: false``), so Slack
hands over ``@editors`` as typed. ``usergroups.list`` (scope ``usergroups:read``) turns
the handle into the group id, and the text reaches the core in Slack's own mention
syntax, ``<!subteam^ID|@editors>``, the form Slack itself sends with escaping on.
"""

from __future__ import annotations

import logging
import re

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack_client import api_error

log = logging.getLogger(__name__)

_TYPED = re.compile(r"^mention\s+@([\w.\-]{1,80})(\s.*)?$", re.IGNORECASE | re.DOTALL)
_SPECIAL = frozenset({"here", "channel", "everyone"})


async def resolve_group(client: AsyncWebClient, text: str) -> str:
    """``text`` with a typed ``@handle`` after ``mention`` replaced by the group's
    mention; unchanged when it names no group (the core then says so)."""
    match = _TYPED.match(text.strip())
    if match is None or match.group(1).lower() in _SPECIAL:
        return text
    handle = match.group(1)
    try:
        response = await client.usergroups_list()
    except SlackApiError as exc:
        log.warning("slack usergroups.list failed: %s", api_error(exc) or "error")
        return text
    for group in response.get("usergroups") or []:
        if str(group.get("handle", "")).lower() == handle.lower() and group.get("id"):
            return f"mention <!subteam^{group['id']}|@{group['handle']}>"
    return text


__all__ = ["resolve_group"]
