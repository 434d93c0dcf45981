"""The Slack Web API client every part of briefbot uses, and the start-up token check.

``[slack] api_url`` (default ``https://slack.com/api/``) is the base of every Web API
call: GovSlack deployments use ``https://slack-gov.com/api/``, tests a loopback fake.
``check_token`` calls ``auth.test``: a refused token (invalid, revoked, deactivated)
is a ``ConfigError`` (exit code 2); an unreachable API or a 5xx is ``Unavailable``.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.startup import Unavailable, describe, network_failure
from bot.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
#: ``auth.test`` errors that mean the token itself is no good: retrying cannot help.
REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "no_permission",
        "org_login_required",
        "team_access_not_granted",
        "ekm_access_denied",
        "app_uninstalled",
    }
)


def retry_handlers() -> list[AsyncRetryHandler]:
    return [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)]


def web_client(api_url: str = DEFAULT_API_URL, token: str | None = None) -> AsyncWebClient:
    """A Web API client on ``api_url`` with briefbot's retry handlers."""
    return AsyncWebClient(token=token, base_url=api_url, retry_handlers=retry_handlers())


def configure(client: AsyncWebClient, api_url: str = DEFAULT_API_URL) -> AsyncWebClient:
    """Point a client someone else built (Bolt's) at ``api_url``, with our retries."""
    client.base_url = api_url
    client.retry_handlers = retry_handlers()
    return client


def api_error(exc: SlackApiError) -> str:
    """Slack's error code, or "" when the body was not JSON (a proxy's 5xx page)."""
    body = exc.response.data
    return str(body.get("error", "") or "") if isinstance(body, dict) else ""


async def check_token(client: AsyncWebClient, name: str = "SLACK_BOT_TOKEN") -> dict[str, Any]:
    """``auth.test`` with the client's token; returns Slack's answer (team, bot user)."""
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        error = api_error(exc)
        status = int(getattr(exc.response, "status_code", 200) or 200)
        if error in REFUSED:
            raise ConfigError(f"slack: {name} was refused by auth.test ({error})") from exc
        if status >= 500 or status == 429 or error in {"ratelimited", "fatal_error"}:
            raise Unavailable(f"slack: auth.test answered HTTP {status} {error}".rstrip()) from exc
        raise ConfigError(f"slack: auth.test failed ({error or status})") from exc
    except SlackClientError as exc:
        raise Unavailable(f"slack: cannot reach the Web API ({describe(exc)})") from exc
    except Exception as exc:
        if network_failure(exc):
            raise Unavailable(f"slack: cannot reach the Web API ({describe(exc)})") from exc
        raise
    data = dict(response.data) if isinstance(response.data, dict) else {}
    log.info("slack: token ok team=%s bot=%s", data.get("team_id"), data.get("user_id"))
    return data


__all__ = ["DEFAULT_API_URL", "api_error", "check_token", "configure", "web_client"]
