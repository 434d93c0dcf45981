"""Personal digests on Discord: open (or find) the DM channel with a user.

``POST /users/@me/channels`` returns the same DM channel for a user each time, so the
publisher's history lookup and nonces work there as in any channel. A user who does not
share a server with the bot, or who blocks its DMs, makes the delivery dead: the open
answers 4xx, or the first post answers 403 / 50007 "Cannot send messages to this user"
(the publisher's ``channel_gone``), and the outbox pauses the personal schedule.
"""

from __future__ import annotations

import aiohttp
import discord

from bot.errors import DeliveryError


async def open_dm(client: discord.Client, user: str) -> discord.PartialMessageable:
    """The REST handle of the DM channel with ``user`` (a user id)."""
    if client.user is None:  # not logged in yet (start-up) or already closed
        raise DeliveryError("discord: the client is not connected yet", retry_after=15.0)
    try:
        user_id = int(user)
    except ValueError as exc:
        raise DeliveryError(f"discord: bad user id {user!r}", permanent=True) from exc
    where = f"discord: DM with user {user_id}"
    try:
        data = await client.http.start_private_message(user_id)
    except discord.RateLimited as exc:
        raise DeliveryError(f"{where}: rate limited", retry_after=exc.retry_after) from exc
    except (discord.Forbidden, discord.NotFound) as exc:
        raise DeliveryError(f"{where}: {exc.status} {exc.text}", channel_gone=True) from exc
    except discord.HTTPException as exc:
        gone = 400 <= exc.status < 500  # e.g. 50007, or an unknown user
        raise DeliveryError(f"{where}: {exc.status} {exc.text}", channel_gone=gone) from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}") from exc
    return client.get_partial_messageable(int(data["id"]), type=discord.ChannelType.private)
