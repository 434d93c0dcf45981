"""A loopback Discord: REST v10 + gateway, enough for the real discord.py 2.7 client.

The gateway speaks plain JSON text frames: HELLO → (HEARTBEAT → HEARTBEAT_ACK) →
IDENTIFY → READY → GUILD_CREATE; tests then inject INTERACTION_CREATE. REST records
every request and checks message payloads against Discord's limits, answering
400 / 50035 like the real API. A test can ask for a 429 (with the headers Discord
sends, ``Via`` included, else discord.py assumes a Cloudflare ban) or for an
interaction that has expired (404 / 10062).

Point discord.py at it with :meth:`FakeDiscord.patch` (``discord.http.Route.BASE`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``; both are internals, see the
canary test).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import yarl
from aiohttp import WSMsgType, web

TOKEN = "fake-token"
APP_ID = 111_111_111_111_111_111
BOT_ID = 222_222_222_222_222_222
GUILD_ID = 333_333_333_333_333_333
CHANNEL_ID = 444_444_444_444_444_444
USER_ID = 555_555_555_555_555_555
MANAGE_GUILD = 1 << 5
MANAGE_CHANNELS = 1 << 4
BASIC_MEMBER = (1 << 10) | (1 << 11)  # view channel + send messages
ADMIN_MEMBER = BASIC_MEMBER | MANAGE_GUILD

BOT_USER = {
    "id": str(BOT_ID),
    "username": "briefbot",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
    "flags": 0,
    "verified": True,
    "mfa_enabled": False,
}
HUMAN = {"id": str(USER_ID), "username": "reader", "discriminator": "0", "avatar": None}

_BODY = web.RequestKey("body", object)
_JSON = "application/json"  # exactly: discord.py only parses this content type
_snowflakes = itertools.count(900_000_000_000_000_000)


def snowflake() -> str:
    return str(next(_snowflakes))


@dataclass
class Recorded:
    """One REST call as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Shard:
    ws: web.WebSocketResponse
    shard_id: int
    shard_count: int
    seq: int = 0

    async def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        await self.ws.send_str(json.dumps({"op": 0, "t": event, "s": self.seq, "d": data}))


@dataclass
class _RateLimit:
    path_contains: str
    retry_after: float
    times: int
    is_global: bool = False
    method: str | None = None


@dataclass
class _Failure:
    path_contains: str
    status: int
    code: int
    message: str
    times: int
    method: str | None = None


@dataclass
class FakeDiscord:
    """Start with ``await fake.start()``; ``fake.patch(monkeypatch)`` points discord.py at it."""

    guild_ids: tuple[int, ...] = (GUILD_ID,)
    recommended_shards: int = 1
    requests: list[Recorded] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    commands: dict[int | None, list[dict[str, Any]]] = field(default_factory=dict)
    identifies: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)
    #: interaction token -> the flags of its defer, until the first follow-up uses them
    deferred: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # tokens whose placeholder was deleted
    shards: dict[int, _Shard] = field(default_factory=dict)
    _limits: list[_RateLimit] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    #: Discord honours ``enforce_nonce`` only for a few minutes; after that, the same
    #: nonce posts again. ``clock`` (seconds) lets a test jump past the window.
    nonce_window_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    #: channel id -> the messages posted there, oldest first (GET .../messages)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Called with each channel post as recorded, before the answer (the kill harness).
    on_post: Callable[[dict[str, Any]], Any] | None = None
    #: user id -> their DM channel id (POST /users/@me/channels, the same one each time)
    dm_channels: dict[str, str] = field(default_factory=dict)
    #: user ids whose DMs refuse the bot: posting there answers 403 / 50007
    blocked_dms: set[str] = field(default_factory=set)
    #: thread id (= the id of the message it was started on) -> the thread's channel
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    _nonces: dict[tuple[str, str], tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition | None = None
    port: int = 0

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._middleware])
        for prefix in ("/api/v10", "/api"):
            app.router.add_route("POST", prefix + "/webhooks/{wid}/{token}", self._webhook_post)
            app.router.add_route(
                "PATCH", prefix + "/webhooks/{wid}/{token}/messages/{mid}", self._webhook_patch
            )
            app.router.add_route(
                "DELETE", prefix + "/webhooks/{wid}/{token}/messages/{mid}", self._webhook_delete
            )
        api = "/api/v10"
        app.router.add_get(api + "/users/@me", self._me)
        app.router.add_post(api + "/users/@me/channels", self._open_dm)
        app.router.add_get(api + "/oauth2/applications/@me", self._app_info)
        app.router.add_get(api + "/applications/@me", self._app_info)
        app.router.add_get(api + "/gateway", self._gateway)
        app.router.add_get(api + "/gateway/bot", self._gateway_bot)
        app.router.add_put(api + "/applications/{app}/commands", self._put_commands)
        app.router.add_put(api + "/applications/{app}/guilds/{guild}/commands", self._put_commands)
        app.router.add_post(api + "/interactions/{iid}/{token}/callback", self._callback)
        app.router.add_post(api + "/channels/{cid}/messages", self._channel_post)
        app.router.add_get(api + "/channels/{cid}/messages", self._channel_history)
        app.router.add_post(api + "/channels/{cid}/messages/{mid}/threads", self._start_thread)
        app.router.add_get("/gateway", self._ws)
        app.router.add_get("/gateway/", self._ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._changed = asyncio.Condition()
        return self

    async def close(self) -> None:
        for shard in list(self.shards.values()):
            await shard.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def webhook_url(self, webhook_id: int = 777, token: str = "hook-secret-token") -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{webhook_id}/{token}"

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py's REST and gateway at this fake for one test."""
        import discord

        monkeypatch.setattr(discord.http.Route, "BASE", self.base_url)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url + "/")
        )

    # -- test controls --------------------------------------------------------------
    def rate_limit(
        self,
        path_contains: str,
        retry_after: float = 0.05,
        times: int = 1,
        is_global: bool = False,
        method: str | None = None,
    ) -> None:
        """The next ``times`` requests whose path contains the text (and of ``method``,
        if given) get a real-looking 429."""
        self._limits.append(_RateLimit(path_contains, retry_after, times, is_global, method))

    def fail(
        self,
        path_contains: str,
        status: int,
        code: int,
        message: str,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """The next ``times`` matching requests get this Discord error (e.g. 403 / 50013)."""
        self._failures.append(_Failure(path_contains, status, code, message, times, method))

    def expire(self, interaction_id: str) -> None:
        """Answer this interaction's callback with 404 / 10062, as when 3 s have passed."""
        self.expired.add(interaction_id)

    async def inject(self, interaction: dict[str, Any]) -> None:
        """Deliver INTERACTION_CREATE on the shard that owns the interaction's guild."""
        guild_id = int(interaction.get("guild_id", 0))
        for shard in self.shards.values():
            if not guild_id or (guild_id >> 22) % shard.shard_count == shard.shard_id:
                await shard.dispatch("INTERACTION_CREATE", interaction)
                return
        raise AssertionError("no gateway connection owns this guild; is the client ready?")

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds after a request (10 s safety net, not a timing test)."""
        assert self._changed is not None
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(predicate)

    def calls(self, method: str, path_contains: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    # -- plumbing ---------------------------------------------------------------------
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path.startswith("/gateway"):
            response: web.StreamResponse = await handler(request)
            return response
        body = await _read_body(request)
        record = Recorded(
            request.method, request.path, dict(request.query), body, dict(request.headers)
        )
        self.requests.append(record)
        limited = self._take_limit(request.method, request.path)
        failure = self._take_failure(request.method, request.path) if limited is None else None
        if limited is not None:
            response = _rate_limited(limited)
        elif failure is not None:
            response = _error(failure.status, failure.code, failure.message)
        else:
            request[_BODY] = body
            response = await handler(request)
        record.status = response.status
        await self._notify()
        return response

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    def _take_limit(self, method: str, path: str) -> _RateLimit | None:
        for limit in self._limits:
            if limit.times > 0 and limit.path_contains in path and limit.method in (None, method):
                limit.times -= 1
                return limit
        return None

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if (
                failure.times > 0
                and failure.path_contains in path
                and failure.method in (None, method)
            ):
                failure.times -= 1
                return failure
        return None

    # -- REST handlers --------------------------------------------------------------
    async def _me(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "") != f"Bot {TOKEN}":
            return _error(401, 0, "401: Unauthorized")
        return _json(BOT_USER)

    async def _app_info(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(APP_ID),
                "name": "briefbot",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": HUMAN,
                "verify_key": "00",
                "flags": 0,
                "summary": "",
            }
        )

    async def _gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": limit,
            }
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        guild = request.match_info.get("guild")
        commands = request[_BODY]
        problems = [p for c in commands for p in _command_problems(c)]
        if problems:
            return _error(400, 50035, "Invalid Form Body", {"_errors": problems})
        stored = []
        for command in commands:
            stored.append(
                {
                    "id": snowflake(),
                    "application_id": str(APP_ID),
                    "version": snowflake(),
                    "type": 1,
                    "guild_id": guild,
                    "default_member_permissions": None,
                    **command,
                }
            )
        self.commands[int(guild) if guild else None] = stored
        return _json(stored)

    async def _callback(self, request: web.Request) -> web.Response:
        iid = request.match_info["iid"]
        if iid in self.expired:
            return _error(404, 10062, "Unknown interaction")
        body = request[_BODY]
        data = body.get("data") or {}
        if body.get("type") == 4:
            problems = message_problems(data)
            if problems:
                return self._reject(data, problems)
            self.messages.append({"via": "callback", "interaction": iid, **data})
        self.callbacks.append({"interaction": iid, **body})
        flags = int(data.get("flags", 0))
        if body.get("type") == 5:
            self.deferred[request.match_info["token"]] = flags
        return _json(
            {
                "interaction": {
                    "id": iid,
                    "type": 2,
                    "response_message_loading": body.get("type") == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": {"type": body.get("type")},
            }
        )

    async def _webhook_post(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        problems = message_problems(body)
        if problems:
            return self._reject(body, problems)
        wid = request.match_info["wid"]
        # Like Discord: the first follow-up after a defer edits the deferred placeholder
        # and so takes the defer's visibility, whatever flags it asks for.
        flags = int(body.get("flags") or 0)
        deferred = self.deferred.pop(request.match_info["token"], None)
        if deferred is not None:
            flags = (flags & ~64) | (deferred & 64)
        ephemeral = bool(flags & 64)
        self.messages.append({"via": "webhook", "webhook": wid, "ephemeral": ephemeral, **body})
        if request.query.get("wait", "false").lower() not in ("true", "1"):
            return web.Response(status=204)
        return _json(_message(CHANNEL_ID, {**body, "flags": flags}, webhook_id=wid))

    async def _webhook_delete(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if request.match_info["mid"] == "@original":
            self.deferred.pop(token, None)  # the placeholder is gone: no flags to inherit
            self.deleted.append(token)
        return web.Response(status=204)

    async def _webhook_patch(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        problems = message_problems(body)
        if problems:
            return self._reject(body, problems)
        self.messages.append({"via": "edit", **body})
        return _json(_message(CHANNEL_ID, body))

    async def _open_dm(self, request: web.Request) -> web.Response:
        """A DM channel with ``recipient_id`` (type 1), stable per user."""
        body = request[_BODY]
        user = str((body or {}).get("recipient_id", ""))
        if not user.isdigit():
            return _error(400, 50035, "Invalid Form Body")
        channel = self.dm_channels.setdefault(user, snowflake())
        recipient = {**HUMAN, "id": user}
        return _json({"id": channel, "type": 1, "last_message_id": None, "recipients": [recipient]})

    async def _channel_post(self, request: web.Request) -> web.Response:
        channel = request.match_info["cid"]
        body = request[_BODY]
        if any(self.dm_channels.get(u) == channel for u in self.blocked_dms):
            return _error(403, 50007, "Cannot send messages to this user")
        problems = message_problems(body)
        if problems:
            return self._reject(body, problems)
        nonce = body.get("nonce")
        earlier = self._nonces.get((channel, str(nonce)))
        if earlier is not None and body.get("enforce_nonce"):
            at, first = earlier
            if self.clock() - at < self.nonce_window_s:
                return _json(first)  # Discord returns the first message
        message = _message(int(channel), body)
        if nonce is not None:
            self._nonces[(channel, str(nonce))] = (self.clock(), message)
        self.history.setdefault(channel, []).append(message)
        recorded = {"via": "channel", "channel": channel, **body}
        self.messages.append(recorded)
        if self.on_post is not None:
            self.on_post(recorded)
        return _json(message)

    async def _start_thread(self, request: web.Request) -> web.Response:
        """A public thread on a message; a second one on the same message is refused
        (400 / 160004), as Discord does. The thread's id is the message's id."""
        channel, message_id = request.match_info["cid"], request.match_info["mid"]
        if not any(m["id"] == message_id for m in self.history.get(channel, [])):
            return _error(404, 10008, "Unknown Message")
        if message_id in self.threads:
            return _error(400, 160004, "A thread has already been created for this message")
        body = request[_BODY]
        thread = {
            "id": message_id,
            "type": 11,
            "guild_id": str(GUILD_ID),
            "parent_id": channel,
            "owner_id": str(BOT_ID),
            "name": body["name"],
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": "2026-11-25T08:00:00+00:00",
                "locked": False,
            },
        }
        self.threads[message_id] = thread
        return _json(thread)

    async def _channel_history(self, request: web.Request) -> web.Response:
        """Newest first, at most ``limit`` (default 50, Discord's 1..100)."""
        channel = request.match_info["cid"]
        limit = int(request.query.get("limit", "50"))
        if not 1 <= limit <= 100:
            return _error(400, 50035, "Invalid Form Body")
        return _json(list(reversed(self.history.get(channel, [])))[:limit])

    def _reject(self, body: dict[str, Any], problems: dict[str, Any]) -> web.Response:
        self.rejected.append({"body": body, "errors": problems})
        if "_empty" in problems:
            return _error(400, 50006, "Cannot send an empty message")
        return _error(400, 50035, "Invalid Form Body", problems)

    # -- gateway ----------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            op = payload.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                await self._identify(ws, payload["d"])
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        shard_id, shard_count = data.get("shard") or [0, 1]
        shard = _Shard(ws, shard_id, shard_count)
        self.shards[shard_id] = shard
        mine = [g for g in self.guild_ids if (g >> 22) % shard_count == shard_id]
        ready = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": str(g), "unavailable": True} for g in mine],
            "session_id": f"session-{shard_id}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "shard": [shard_id, shard_count],
        }
        await shard.dispatch("READY", ready)
        for guild_id in mine:
            await shard.dispatch("GUILD_CREATE", guild_payload(guild_id))
        await self._notify()


@contextlib.asynccontextmanager
async def running(client: Any, token: str = TOKEN) -> AsyncIterator[Any]:
    """Start a real discord.py client against the fake; yield once it is ready; close it."""
    task = asyncio.create_task(client.start(token))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    try:
        if task in done:
            task.result()  # login or gateway failure: raise it here
        if ready not in done:
            raise AssertionError("the client did not become ready")
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- payload limits, like the real API --------------------------------------------------
def _too_long(limit: int) -> dict[str, Any]:
    message = f"Must be {limit} or fewer in length."
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": message}]}


def embed_chars(embed: dict[str, Any]) -> int:
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        total += len(item.get("name") or "") + len(item.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def message_problems(body: dict[str, Any]) -> dict[str, Any]:
    """Errors Discord would report for a message body; empty when it would be accepted."""
    problems: dict[str, Any] = {}
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if not content and not embeds and not body.get("attachments"):
        return {"_empty": True}
    if len(content) > 2000:
        problems["content"] = _too_long(2000)
    if len(embeds) > 10:
        problems["embeds"] = _too_long(10)
    total = 0
    for index, embed in enumerate(embeds):
        errors: dict[str, Any] = {}
        for key, limit in (("title", 256), ("description", 4096)):
            if len(embed.get(key) or "") > limit:
                errors[key] = _too_long(limit)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors["fields"] = _too_long(25)
        for f_index, item in enumerate(fields):
            if len(item.get("name") or "") > 256 or not item.get("name"):
                errors[f"fields.{f_index}.name"] = _too_long(256)
            if len(item.get("value") or "") > 1024 or not item.get("value"):
                errors[f"fields.{f_index}.value"] = _too_long(1024)
        if len((embed.get("footer") or {}).get("text") or "") > 2048:
            errors["footer.text"] = _too_long(2048)
        url = embed.get("url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            errors["url"] = {"_errors": [{"code": "URL_TYPE_INVALID_URL", "message": "Not a URL"}]}
        total += embed_chars(embed)
        if errors:
            problems[f"embeds.{index}"] = errors
    if total > 6000:
        problems["embeds"] = {
            "_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Too big"}]
        }
    return problems


def _command_problems(command: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    name = command.get("name", "")
    if not name or len(name) > 32 or name != name.lower():
        problems.append({"code": "APPLICATION_COMMAND_INVALID_NAME", "message": name})
    if command.get("type", 1) == 1 and not 1 <= len(command.get("description", "")) <= 100:
        problems.append({"code": "BASE_TYPE_BAD_LENGTH", "message": f"{name}.description"})
    if len(command.get("options") or []) > 25:
        problems.append({"code": "BASE_TYPE_MAX_LENGTH", "message": f"{name}.options"})
    return problems


# -- payload builders -------------------------------------------------------------------
def guild_payload(guild_id: int) -> dict[str, Any]:
    channel = {
        "id": str(CHANNEL_ID),
        "type": 0,
        "name": "news",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "guild_id": str(guild_id),
    }
    everyone = {
        "id": str(guild_id),
        "name": "@everyone",
        "permissions": str(BASIC_MEMBER),
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }
    return {
        "id": str(guild_id),
        "name": "Newsroom",
        "icon": None,
        "owner_id": str(USER_ID),
        "roles": [everyone],
        "emojis": [],
        "stickers": [],
        "features": [],
        "member_count": 2,
        "members": [],
        "channels": [channel] if guild_id == GUILD_ID else [],
        "threads": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "voice_states": [],
        "presences": [],
        "large": False,
        "unavailable": False,
        "joined_at": "2026-01-01T00:00:00+00:00",
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "system_channel_flags": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "afk_timeout": 300,
    }


def slash(
    name: str,
    options: list[dict[str, Any]] | None = None,
    *,
    permissions: int = BASIC_MEMBER,
    guild_id: int = GUILD_ID,
    channel_id: int = CHANNEL_ID,
    interaction_type: int = 2,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for ``/name`` typed by a member with ``permissions``."""
    return {
        "id": snowflake(),
        "application_id": str(APP_ID),
        "type": interaction_type,
        "token": "interaction-token-" + snowflake(),
        "version": 1,
        "guild_id": str(guild_id),
        "channel_id": str(channel_id),
        "channel": {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": "news",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "permissions": str(permissions),
        },
        "member": {
            "user": HUMAN,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(permissions),
        },
        "app_permissions": str(BASIC_MEMBER | (1 << 14)),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild_id)},
        "context": 0,
        "attachment_size_limit": 10_485_760,
        "data": {
            "id": snowflake(),
            "name": name,
            "type": 1,
            "guild_id": str(guild_id),
            "options": options or [],
        },
    }


def sub(name: str, **values: str) -> dict[str, Any]:
    """A subcommand option with string values: ``sub("subscribe", url="https://…")``."""
    options = [{"name": k, "type": 3, "value": v} for k, v in values.items()]
    return {"name": name, "type": 1, "options": options}


def opt(name: str, value: str, focused: bool = False) -> dict[str, Any]:
    option: dict[str, Any] = {"name": name, "type": 3, "value": value}
    if focused:
        option["focused"] = True
    return option


# -- helpers ----------------------------------------------------------------------------
async def _read_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        raw = form.get("payload_json")
        return json.loads(str(raw)) if raw is not None else {}
    text = await request.text()
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def _message(
    channel_id: int, body: dict[str, Any], webhook_id: str | None = None
) -> dict[str, Any]:
    message = {
        "id": snowflake(),
        "channel_id": str(channel_id),
        "type": 0,
        "content": body.get("content") or "",
        "embeds": body.get("embeds") or [],
        "author": BOT_USER,
        "attachments": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": "2026-11-25T08:00:00+00:00",
        "edited_timestamp": None,
        "flags": int(body.get("flags") or 0),
        "components": [],
    }
    if webhook_id is not None:
        message["webhook_id"] = webhook_id
    return message


def _json(data: Any, status: int = 200) -> web.Response:
    # body + explicit header: ``text=`` would append "; charset=utf-8"
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": _JSON}
    )


def _error(status: int, code: int, message: str, errors: Any = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return _json(body, status)


def _rate_limited(limit: _RateLimit) -> web.Response:
    body = {"message": "You are being rate limited.", "retry_after": limit.retry_after}
    body["global"] = limit.is_global
    headers = {
        "Retry-After": str(max(1, round(limit.retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1764057600.000",
        "X-RateLimit-Reset-After": f"{limit.retry_after:.3f}",
        "X-RateLimit-Bucket": "fakebucket0000000000000000000000",
        "X-RateLimit-Scope": "global" if limit.is_global else "user",
        "Via": "1.1 google",
    }
    if limit.is_global:
        headers["X-RateLimit-Global"] = "true"
    headers["Content-Type"] = _JSON
    return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)
