"""Discord start-up: check the token, then hand the connection to discord.py.

Before ``client.start`` the adapter asks ``GET /users/@me`` itself. A 401 is a
``ConfigError`` (exit code 2, the same message every time); an unreachable API or a 5xx
is ``Unavailable`` so the supervisor retries with backoff. Doing the check outside
discord.py keeps the client untouched until the token is known to work: a
``discord.Client`` cannot be started again once it was closed.

``[discord] api_base`` and ``gateway_url`` (test-only) point discord.py at a loopback
fake; both are module-level settings in discord.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp
import discord
import yarl

from bot.chat.startup import Unavailable, describe, network_failure
from bot.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
REFUSED = "discord: DISCORD_TOKEN was refused (401)"
LOGIN_TIMEOUT_S = 10.0


def api_base() -> str:
    return str(discord.http.Route.BASE)


def point_at(api: str = "", gateway: str = "") -> None:
    """Use another REST base and gateway (``[discord] api_base`` / ``gateway_url``)."""
    if api:
        discord.http.Route.BASE = api.rstrip("/")
        log.warning("discord: using the test API base %s", api)
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway.rstrip("/") + "/")


async def check_token(token: str, base: str | None = None) -> None:
    """Raise ConfigError when Discord refuses ``token``, Unavailable when it cannot say."""
    url = (base or api_base()).rstrip("/") + "/users/@me"
    headers = {"Authorization": f"Bot {token}", "User-Agent": "briefbot"}
    timeout = aiohttp.ClientTimeout(total=LOGIN_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            status = response.status
    except Exception as exc:
        if network_failure(exc):
            raise Unavailable(f"discord: cannot reach the API ({describe(exc)})") from exc
        raise
    if status == 401:
        raise ConfigError(REFUSED)
    if status >= 500 or status == 429:
        raise Unavailable(f"discord: login answered HTTP {status}")
    if status >= 400:
        raise ConfigError(f"discord: login refused with HTTP {status}")


async def start_client(
    client: discord.Client, token: str, *, on_ready: Callable[[], None] | None = None
) -> None:
    """Check the token, then log in and hold the gateway until the client closes;
    ``on_ready`` is called when the gateway is ready (for /readyz)."""
    await check_token(token)
    if on_ready is not None:
        ready_callback = on_ready

        async def ready_event() -> None:  # discord.py dispatches "ready" to on_ready
            ready_callback()

        client.on_ready = ready_event  # type: ignore[attr-defined]
    try:
        await client.start(token, reconnect=True)
    except discord.LoginFailure as exc:
        raise ConfigError(REFUSED) from exc
    finally:
        if not client.is_closed():
            await client.close()


__all__ = ["REFUSED", "check_token", "point_at", "start_client"]
