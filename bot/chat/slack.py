"""Slack adapter: ``/briefing`` over Socket Mode or HTTP (Events API), on slack-bolt's AsyncApp.

The adapter only translates: a slash-command payload becomes an ``IncomingCommand``,
the core's ``Reply`` becomes Block Kit. It acknowledges at once (Slack gives up after
3 s), then answers: management replies and errors ephemerally through ``respond()``,
briefings in the channel through ``chat.postMessage``. Whether a user may manage the
channel is decided here (configured user ids, or workspace admin/owner per
``users.info``) and handed to the core as ``can_manage``.

HTTP mode can serve many workspaces: with a client id and secret it runs Bolt's OAuth
flow and keeps installations in slack_sdk's SQLAlchemy stores in our database;
``app_uninstalled`` / ``tokens_revoked`` events delete them again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import sqlalchemy
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import (
    AsyncSQLAlchemyOAuthStateStore,
    SQLAlchemyOAuthStateStore,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.chat.slack_client import (
    DEFAULT_API_URL,
    api_error,
    check_token,
    configure,
    web_client,
)
from bot.chat.slack_mentions import resolve_group
from bot.chat.slack_render import (
    STORY_ACTION,
    SlackPublisher,
    render_briefing,
    render_story,
    render_text,
)
from bot.core.models import Briefing, ChannelRef, IncomingCommand, Reply
from bot.core.usage import SLACK, words
from bot.errors import ConfigError
from bot.store.urls import driver_url

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

# Asked for at OAuth install; the same list as deploy/slack-manifest.yml (a test checks).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "users:read",
    "channels:history",
    "groups:history",
    "usergroups:read",
    "im:write",  # conversations.open: personal digests by DM
    "im:history",  # the crash lookup in those DMs
)
APOLOGY = "Sorry, something went wrong while answering /briefing. Please try again in a minute."
_FALLBACK_TO_RESPOND = {"not_in_channel", "channel_not_found"}


class CommandRouter(Protocol):
    """What the adapter needs from the core's router (``bot.core.commands``)."""

    async def dispatch(self, cmd: IncomingCommand) -> Reply: ...

    async def story(self, ref: ChannelRef, story_id: int) -> Reply: ...


@dataclass(frozen=True)
class SlackOptions:
    """How the Slack adapter runs. Secrets come from the environment and never print."""

    mode: Literal["socket", "http"] = "socket"
    host: str = "0.0.0.0"
    port: int = 3000
    path: str = "/slack/events"
    command: str = "/briefing"
    admin_user_ids: frozenset[str] = frozenset()
    bot_token: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None
    database_url: str | None = field(default=None, repr=False)
    post_interval: float = 1.0
    admin_cache_seconds: float = 300.0
    api_url: str = DEFAULT_API_URL  # [slack] api_url

    @property
    def oauth(self) -> bool:
        """True when HTTP mode serves many workspaces through the OAuth flow."""
        return self.mode == "http" and bool(self.client_id and self.client_secret)

    @classmethod
    def from_env(
        cls,
        settings: Settings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> SlackOptions:
        """Options from ``settings`` (``[slack]``, ``[chat] admin_user_ids``, the database
        URL) plus the SLACK_* secrets in ``env`` (default: ``os.environ``); validated.

        ``overrides`` replace single fields (tests, or a CLI flag).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "bot_token": env.get("SLACK_BOT_TOKEN") or None,
            "app_token": env.get("SLACK_APP_TOKEN") or None,
            "signing_secret": env.get("SLACK_SIGNING_SECRET") or None,
            "client_id": env.get("SLACK_CLIENT_ID") or None,
            "client_secret": env.get("SLACK_CLIENT_SECRET") or None,
            "redirect_uri": env.get("SLACK_REDIRECT_URI") or None,
        }
        if settings is not None:
            values.update(
                mode=settings.slack.mode,
                host=settings.slack.host,
                port=settings.slack.port,
                admin_user_ids=settings.chat.admin_user_ids,
                database_url=settings.database_url,
                api_url=settings.slack.api_url,
            )
        values.update(overrides)
        values["admin_user_ids"] = frozenset(values.get("admin_user_ids", ()))
        options = cls(**values)
        options.validate()
        return options

    def validate(self) -> None:
        """Raise ConfigError naming the missing variable for the chosen mode."""
        if self.mode not in ("socket", "http"):
            raise ConfigError(f'config: [slack] mode must be "socket" or "http", got {self.mode!r}')
        needed = {
            "socket": [("SLACK_APP_TOKEN", self.app_token), ("SLACK_BOT_TOKEN", self.bot_token)],
            "http": [("SLACK_SIGNING_SECRET", self.signing_secret)],
        }
        for name, value in needed[self.mode]:
            if not value:
                raise ConfigError(f'config: {name} is required when [slack] mode = "{self.mode}"')
        if not self.bot_token and not self.oauth:
            raise ConfigError(
                "config: set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
                'SLACK_CLIENT_SECRET (OAuth) when [slack] mode = "http"'
            )
        if self.oauth and not self.database_url:
            raise ConfigError("config: [bot] database_url is required for Slack OAuth")


def _oauth_stores(options: SlackOptions) -> tuple[AsyncEngine, AsyncInstallationStore, Any]:
    """Installation + state stores on our database; tables are created here, once."""
    assert options.client_id and options.database_url
    sync_url = driver_url(options.database_url, use_async=False)
    async_url = driver_url(options.database_url, use_async=True)
    # Creating the tables is a one-off at start-up; a short-lived sync engine keeps
    # build_slack_app synchronous.
    sync_engine = sqlalchemy.create_engine(sync_url)
    try:
        SQLAlchemyInstallationStore(options.client_id, sync_engine).create_tables()  # type: ignore[no-untyped-call]
        SQLAlchemyOAuthStateStore(600, sync_engine).create_tables()  # type: ignore[no-untyped-call]
    finally:
        sync_engine.dispose()
    engine = create_async_engine(async_url)
    installations = AsyncSQLAlchemyInstallationStore(client_id=options.client_id, engine=engine)
    states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
    return engine, installations, states


class BriefbotSlackApp(AsyncApp):
    """An AsyncApp that remembers what must be closed with it (our OAuth engine)."""

    briefbot_engine: AsyncEngine | None = None


class _Handlers:
    """The listeners; one instance per app, holding the router and the admin cache."""

    def __init__(
        self,
        router: CommandRouter,
        options: SlackOptions,
        on_uninstall: Callable[[str], Awaitable[None]] | None,
        store: AsyncInstallationStore | None,
    ) -> None:
        self._router = router
        self._revocation = AsyncTokenRevocationListeners(store) if store is not None else None
        self._options = options
        self._on_uninstall = on_uninstall
        self._admins: dict[tuple[str, str], tuple[float, bool]] = {}

    async def can_manage(self, client: AsyncWebClient, team: str, user: str) -> bool:
        """Configured ids, else Slack admin/owner (cached for a few minutes)."""
        if user in self._options.admin_user_ids:
            return True
        cached = self._admins.get((team, user))
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        try:
            info = (await client.users_info(user=user)).get("user") or {}
        except SlackApiError as exc:
            # Cached like an answer: one failed lookup, not one call and warning per command.
            log.warning("slack users.info failed user=%s: %s", user, api_error(exc) or "error")
            info = {}
        allowed = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
        self._admins[(team, user)] = (now + self._options.admin_cache_seconds, allowed)
        return allowed

    async def command(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """``/briefing ...``: ack now, then dispatch to the core and answer."""
        await ack()
        team, user = str(body.get("team_id", "")), str(body.get("user_id", ""))
        channel = str(body.get("channel_id", ""))
        try:
            text = str(body.get("text") or "").strip()
            manage = await self.can_manage(client, team, user)
            if manage and text.lower().startswith("mention "):
                text = await resolve_group(client, text)
            cmd = IncomingCommand(
                platform="slack",
                channel=channel,
                user=user,
                text=text,
                workspace=team,
                can_manage=manage,
            )
            reply = await self._router.dispatch(cmd)
        except Exception:
            log.exception("slack command failed channel=%s", channel)
            await self._respond_all(respond, render_text(APOLOGY), ephemeral=True)
            return
        if reply.briefing is not None:
            await self._briefing(client, respond, channel, reply.briefing, reply.ephemeral)
        elif reply.story is not None:
            await self._respond_all(respond, render_story(reply.story), ephemeral=True)
        else:
            text = words(reply.text, reply.say, SLACK)  # Slack's own command syntax
            await self._respond_all(respond, render_text(text), ephemeral=reply.ephemeral)

    async def story_button(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """ "Sources (N)" pressed (a signed ``block_actions`` request, like commands): ack
        now, then answer only the presser with the story's articles."""
        await ack()
        action = (body.get("actions") or [{}])[0]
        channel = str((body.get("channel") or {}).get("id", ""))
        team = str((body.get("team") or {}).get("id", "") or "")
        try:
            story_id = int(str(action.get("value", "")))
        except ValueError:
            story_id = 0  # not one of ours: answered as a story that is gone
        try:
            reply = await self._router.story(ChannelRef("slack", channel, team), story_id)
        except Exception:
            log.exception("slack story button failed channel=%s", channel)
            reply = Reply(text=APOLOGY, ephemeral=True, ok=False)
        if reply.story is not None:
            await self._respond_all(respond, render_story(reply.story), ephemeral=True)
        else:
            await self._respond_all(respond, render_text(reply.text), ephemeral=True)

    async def _briefing(
        self,
        client: AsyncWebClient,
        respond: AsyncRespond,
        channel: str,
        briefing: Briefing,
        ephemeral: bool,
    ) -> None:
        messages = render_briefing(briefing)
        for index, message in enumerate(messages):
            if index and self._options.post_interval > 0:
                await asyncio.sleep(self._options.post_interval)  # ~1 message/s/channel
            if ephemeral:
                await self._respond(respond, message, ephemeral=True)
                continue
            try:
                await client.chat_postMessage(
                    channel=channel, unfurl_links=False, unfurl_media=False, **message
                )
            except SlackApiError as exc:
                error = api_error(exc)
                if error in _FALLBACK_TO_RESPOND:
                    # The bot is not in this (private) channel: the response_url still works.
                    await self._respond(respond, message, ephemeral=False)
                    continue
                log.warning("slack chat.postMessage failed channel=%s: %s", channel, error)
                text = (
                    f"Sorry, I could not post the briefing here (Slack said: {error or 'error'})."
                )
                await self._respond_all(respond, render_text(text), ephemeral=True)
                return

    async def _respond_all(
        self, respond: AsyncRespond, messages: list[dict[str, Any]], ephemeral: bool
    ) -> None:
        for message in messages:
            await self._respond(respond, message, ephemeral)

    async def _respond(self, respond: AsyncRespond, msg: dict[str, Any], ephemeral: bool) -> None:
        kind = "ephemeral" if ephemeral else "in_channel"
        try:
            await respond(response_type=kind, replace_original=False, **msg)
        except Exception as exc:  # the response_url may be stale or unreachable
            log.warning("slack respond failed: %s: %s", type(exc).__name__, exc)

    async def uninstalled(self, context: AsyncBoltContext) -> None:
        """``app_uninstalled``: forget the workspace's tokens, then tell the core."""
        if self._revocation is not None:
            await self._revocation.handle_app_uninstalled_events(context)
        log.info("slack app uninstalled team=%s", context.team_id)
        if self._on_uninstall is not None and context.team_id:
            await self._on_uninstall(context.team_id)

    async def tokens_revoked(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        """``tokens_revoked``: drop the revoked user and bot tokens."""
        if self._revocation is not None:
            await self._revocation.handle_tokens_revoked_events(event, context)


def build_slack_app(
    router: CommandRouter,
    options: SlackOptions,
    *,
    client_base_url: str | None = None,
    installation_store: AsyncInstallationStore | None = None,
    state_store: AsyncOAuthStateStore | None = None,
    on_uninstall: Callable[[str], Awaitable[None]] | None = None,
) -> AsyncApp:
    """Build the Bolt app for ``options``; nothing connects until ``run_slack``.

    ``client_base_url`` points the Web API client elsewhere (tests: a fake Slack).
    In OAuth mode the installation and state stores default to slack_sdk's SQLAlchemy
    stores on ``options.database_url`` (their tables are created here). ``on_uninstall``
    is awaited with the team id after a workspace removed the app.
    """
    options.validate()
    if (
        not options.oauth
        and os.environ.get("SLACK_CLIENT_ID")
        and os.environ.get("SLACK_CLIENT_SECRET")
    ):
        # Bolt itself switches to OAuth (with a file store) when it sees these variables.
        raise ConfigError(
            "config: SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are set but Slack OAuth needs "
            '[slack] mode = "http"; unset them to use a single bot token'
        )
    api_url = client_base_url or options.api_url
    engine: AsyncEngine | None = None
    oauth_settings: AsyncOAuthSettings | None = None
    if options.oauth:
        if installation_store is None or state_store is None:
            engine, default_installations, default_states = _oauth_stores(options)
            installation_store = installation_store or default_installations
            state_store = state_store or default_states
        oauth_settings = AsyncOAuthSettings(
            client_id=options.client_id,
            client_secret=options.client_secret,
            scopes=list(BOT_SCOPES),
            redirect_uri=options.redirect_uri,
            installation_store=installation_store,
            state_store=state_store,
        )
    if oauth_settings is not None:
        app = BriefbotSlackApp(
            name="briefbot",
            client=web_client(api_url),
            signing_secret=options.signing_secret or "",
            oauth_settings=oauth_settings,
        )
    else:
        # Bolt builds the client from the token (passing a client as well makes it warn
        # that the token is unused); then it is pointed at [slack] api_url.
        app = BriefbotSlackApp(
            name="briefbot", token=options.bot_token, signing_secret=options.signing_secret or ""
        )
        configure(app.client, api_url)
    app.briefbot_engine = engine
    handlers = _Handlers(router, options, on_uninstall, app.installation_store)
    app.command(options.command)(handlers.command)
    app.action(STORY_ACTION)(handlers.story_button)
    app.event("app_uninstalled")(handlers.uninstalled)
    app.event("tokens_revoked")(handlers.tokens_revoked)
    return app


@dataclass
class SlackRunning:
    """A started adapter: ``port`` is the bound HTTP port (None in Socket Mode)."""

    stop: Callable[[], Awaitable[None]]
    port: int | None = None


async def start_slack(app: AsyncApp, options: SlackOptions) -> SlackRunning:
    """Connect Socket Mode or start the HTTP server on the running loop; return a handle."""
    if options.mode == "socket":
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(app, app_token=options.app_token, web_client=app.client)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("slack connected mode=socket")

        async def stop_socket() -> None:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await close_slack_app(app)

        return SlackRunning(stop_socket)

    server = app.server(port=options.port, path=options.path, host=options.host)
    runner = web.AppRunner(server.web_app)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else options.port
    log.info("slack listening mode=http host=%s port=%s path=%s", options.host, port, options.path)

    async def stop_http() -> None:
        await runner.cleanup()
        await close_slack_app(app)

    return SlackRunning(stop_http, port)


async def run_slack(
    app: AsyncApp, options: SlackOptions, *, on_ready: Callable[[], None] | None = None
) -> None:
    """Serve Slack on the current event loop until this coroutine is cancelled.

    Run it as a task beside the scheduler and Discord (``asyncio.create_task``);
    cancelling the task disconnects Socket Mode or stops the HTTP server and closes
    the OAuth database engine. Use ``start_slack`` to get a handle instead.
    """
    if options.bot_token and not options.oauth:
        await check_token(app.client)  # a revoked token: exit 2 now, not at the first command
    running = await start_slack(app, options)
    if on_ready is not None:
        on_ready()
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()


async def close_slack_app(app: AsyncApp) -> None:
    """Release what ``build_slack_app`` opened (the OAuth stores' database engine)."""
    engine = getattr(app, "briefbot_engine", None)
    if isinstance(engine, AsyncEngine):
        await engine.dispose()


__all__ = [
    "BOT_SCOPES",
    "SlackOptions",
    "SlackPublisher",
    "SlackRunning",
    "build_slack_app",
    "close_slack_app",
    "run_slack",
    "start_slack",
]
