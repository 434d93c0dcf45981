"""A fake Slack: Web API, response_url endpoint and a Socket Mode websocket on 127.0.0.1.

Point the real clients at it: ``AsyncWebClient(base_url=fake.api_url)`` (ends with
``/api/``; slack_sdk joins with ``urljoin``). Every call is recorded with its headers and
arguments. ``chat.postMessage`` and response_url posts enforce Block Kit limits and
answer ``invalid_blocks`` / ``msg_blocks_too_long`` like Slack; ``fail_next`` queues a
429 (with Retry-After) or a 5xx for a method. ``apps.connections.open`` hands out a
local websocket URL; ``send_envelope`` pushes a Socket Mode envelope down it and the
client's ack frames are recorded in ``socket_frames``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from bot.core.models import ArticleDraft

EVIL = "Hello <!channel> @everyone <https://evil|click>"

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TOTAL = 13_000


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str]

    @property
    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        token = self.args.get("token")
        return str(token) if token else None


@dataclass
class Workspace:
    team_id: str
    bot_token: str
    bot_user_id: str = "UBOT"
    admins: set[str] = field(default_factory=set)
    usergroups: dict[str, str] = field(default_factory=dict)  # handle -> id


def check_blocks(blocks: Any) -> str | None:
    """The Slack error a message with these blocks would get, or None when valid."""
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    total = 0
    for block in blocks:
        kind = block.get("type")
        text = block.get("text") or {}
        body = str(text.get("text", "")) if isinstance(text, dict) else ""
        if kind == "header":
            if text.get("type") != "plain_text" or not 0 < len(body) <= MAX_HEADER:
                return "invalid_blocks"
        elif kind == "section":
            if not 0 < len(body) <= MAX_SECTION:
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                return "invalid_blocks"
            body = "".join(str(e.get("text", "")) for e in elements)
        elif kind != "divider":
            return "invalid_blocks"
        total += len(body)
    if total > MAX_TOTAL:
        return "msg_blocks_too_long"
    return None


class FakeSlack:
    """The fake; use as ``async with FakeSlack() as fake:``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # bodies posted to response_url
        self.socket_frames: list[dict[str, Any]] = []  # frames the client sent us
        self.workspaces: dict[str, Workspace] = {}
        self.revoked: set[str] = set()  # tokens Slack answers with token_revoked
        self.oauth_codes: dict[str, Workspace] = {}
        self.app_token = "xapp-1-test"
        self.messages: dict[str, list[dict[str, Any]]] = {}
        #: user id -> the error conversations.open answers for them (a refused DM)
        self.dm_refused: dict[str, str] = {}
        #: (channel, parent ts) -> replies in that thread, oldest first; like Slack, a
        #: reply is not in the channel's history
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        #: Called with each posted message as stored, before the answer (the kill harness).
        self.on_post: Callable[[dict[str, Any]], Any] | None = None
        self._failures: dict[str, list[list[Any]]] = {}
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._posted = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- setup --------------------------------------------------------------------------

    def add_workspace(
        self, team_id: str, bot_token: str, admins: set[str] | None = None
    ) -> Workspace:
        workspace = Workspace(team_id, bot_token, admins=set(admins or ()))
        self.workspaces[bot_token] = workspace
        return workspace

    def fail_next(
        self,
        method: str,
        status: int = 200,
        retry_after: float | None = None,
        error: str = "",
        after: int = 0,
    ) -> None:
        """Make a call of ``method`` fail (the next one, or the one after ``after`` more):
        429 → ratelimited with Retry-After, 5xx → a bare server error,
        200 → ``{"ok": false, "error": error}``."""
        self._failures.setdefault(method, []).append([after, status, retry_after, error])

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- queries for tests --------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self) -> list[Call]:
        """Successful chat.postMessage calls, in order."""
        return [c for c in self.calls_to("chat.postMessage") if c.args.get("_ok")]

    async def wait_for(self, predicate: Any, limit: float = 5.0) -> None:
        """Wait until ``predicate()`` is true (a post, a response or a frame arrived)."""

        async def check() -> None:
            async with self._posted:
                await self._posted.wait_for(predicate)

        await asyncio.wait_for(check(), limit)

    async def _notify(self) -> None:
        async with self._posted:
            self._posted.notify_all()

    # -- Web API ------------------------------------------------------------------------

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            raw = await request.text()
            if request.content_type == "application/json":
                args.update(json.loads(raw or "{}"))
            else:
                args.update(parse_qsl(raw, keep_blank_values=True))
        return args

    def _json(self, data: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
        return web.json_response(data, status=status, headers=headers)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = Call(method, await self._args(request), dict(request.headers))
        self.calls.append(call)
        try:
            return await self._handle(method, call)
        finally:
            await self._notify()

    async def _handle(self, method: str, call: Call) -> web.Response:
        queued = self._failures.get(method)
        if queued and queued[0][0] > 0:
            queued[0][0] -= 1
        elif queued:
            _, status, retry_after, error = queued.pop(0)
            if status == 200:
                return self._json({"ok": False, "error": error})
            if status == 429:
                headers = {"Retry-After": str(int(retry_after or 0))}
                return self._json({"ok": False, "error": "ratelimited"}, 429, **headers)
            return web.Response(status=status, text="upstream trouble")
        if method == "apps.connections.open":
            if call.token != self.app_token:
                return self._json({"ok": False, "error": "invalid_auth"})
            ws_url = self.url.replace("http://", "ws://") + "/socket"
            return self._json({"ok": True, "url": ws_url})
        if method == "oauth.v2.access":
            return self._oauth(call)
        if call.token in self.revoked:
            return self._json({"ok": False, "error": "token_revoked"})
        workspace = self.workspaces.get(call.token or "")
        if workspace is None:
            return self._json({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return self._json(
                {
                    "ok": True,
                    "team_id": workspace.team_id,
                    "user_id": workspace.bot_user_id,
                    "bot_id": "B" + workspace.team_id,
                    "url": "https://fake.slack.test/",
                    "team": workspace.team_id,
                    "user": "briefbot",
                }
            )
        if method == "users.info":
            user = str(call.args.get("user", ""))
            admin = user in workspace.admins
            body = {"id": user, "team_id": workspace.team_id, "is_admin": admin, "is_owner": False}
            return self._json({"ok": True, "user": body})
        if method == "usergroups.list":
            groups = [
                {"id": gid, "team_id": workspace.team_id, "handle": handle, "name": handle}
                for handle, gid in workspace.usergroups.items()
            ]
            return self._json({"ok": True, "usergroups": groups})
        if method == "chat.postMessage":
            return self._post_message(call)
        if method == "conversations.open":
            users = str(call.args.get("users", ""))
            if not users or "," in users:
                return self._json({"ok": False, "error": "invalid_arguments"})
            if users in self.dm_refused:
                return self._json({"ok": False, "error": self.dm_refused[users]})
            return self._json({"ok": True, "channel": {"id": "D" + users.removeprefix("U")}})
        if method == "conversations.history":
            channel = str(call.args.get("channel", ""))
            history = list(reversed(self.messages.get(channel, [])))
            return self._json({"ok": True, "messages": history, "has_more": False})
        if method == "conversations.replies":
            channel, parent_ts = str(call.args.get("channel", "")), str(call.args.get("ts", ""))
            parent = [m for m in self.messages.get(channel, []) if m["ts"] == parent_ts]
            if not parent:
                return self._json({"ok": False, "error": "thread_not_found"})
            replies = self.threads.get((channel, parent_ts), [])
            return self._json({"ok": True, "messages": parent + replies, "has_more": False})
        return self._json({"ok": False, "error": "unknown_method"})

    def _post_message(self, call: Call) -> web.Response:
        error = check_blocks(call.args.get("blocks"))
        if error is None and not call.args.get("text") and not call.args.get("blocks"):
            error = "no_text"
        if error is not None:
            return self._json({"ok": False, "error": error})
        call.args["_ok"] = True
        channel = str(call.args.get("channel", ""))
        ts = f"1700000000.{next(self._ts):06d}"
        message = {"type": "message", "ts": ts, "text": call.args.get("text", "")}
        if call.args.get("metadata"):
            message["metadata"] = call.args["metadata"]
        thread_ts = call.args.get("thread_ts")
        if thread_ts:
            if not any(m["ts"] == thread_ts for m in self.messages.get(channel, [])):
                call.args.pop("_ok")
                return self._json({"ok": False, "error": "thread_not_found"})
            message["thread_ts"] = str(thread_ts)
            self.threads.setdefault((channel, str(thread_ts)), []).append(message)
        else:
            self.messages.setdefault(channel, []).append(message)
        if self.on_post is not None:
            self.on_post(message)
        return self._json({"ok": True, "channel": channel, "ts": ts, "message": message})

    def _oauth(self, call: Call) -> web.Response:
        workspace = self.oauth_codes.get(str(call.args.get("code", "")))
        if workspace is None:
            return self._json({"ok": False, "error": "invalid_code"})
        return self._json(
            {
                "ok": True,
                "app_id": "A1",
                "access_token": workspace.bot_token,
                "token_type": "bot",
                "scope": "commands,chat:write,users:read",
                "bot_user_id": workspace.bot_user_id,
                "team": {"id": workspace.team_id, "name": workspace.team_id},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": "UINSTALLER"},
            }
        )

    # -- response_url -------------------------------------------------------------------

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_name"] = request.match_info["name"]
        error = check_blocks(body.get("blocks"))
        body["_ok"] = error is None
        self.responses.append(body)
        await self._notify()
        if error is not None:
            return web.Response(status=400, text=error)
        return web.Response(text="ok")

    # -- Socket Mode --------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._socket_ready.set()
        await self._notify()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.socket_frames.append(json.loads(msg.data))
                await self._notify()
        self._sockets.remove(ws)
        await self._notify()
        return ws

    @property
    def socket_connections(self) -> int:
        """Socket Mode websockets currently open."""
        return len(self._sockets)

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push one Socket Mode envelope to the connected client."""
        await asyncio.wait_for(self._socket_ready.wait(), 5.0)
        await self._sockets[-1].send_str(json.dumps(envelope))


# -- driving the real Bolt app over HTTP ------------------------------------------------


@asynccontextmanager
async def serve_bolt(app: Any) -> AsyncIterator[str]:
    """Serve a real AsyncApp on 127.0.0.1:<free port>; yields the base URL."""
    runner = web.AppRunner(app.server(port=0, host="127.0.0.1").web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def slash_payload(
    text: str,
    *,
    team: str = "T1",
    user: str = "UADMIN",
    channel: str = "C1",
    response_url: str = "",
) -> dict[str, str]:
    """The fields Slack sends for ``/briefing <text>`` (form body or Socket Mode payload)."""
    return {
        "token": "deprecated-verification-token",
        "team_id": team,
        "team_domain": team.lower(),
        "channel_id": channel,
        "channel_name": "news",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/briefing",
        "text": text,
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def signed(secret: str, body: str, *, age: float = 0.0, bad: bool = False) -> dict[str, str]:
    """Headers Slack would send with ``body``: timestamp (``age`` seconds old) + signature."""
    timestamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    if bad:
        signature = signature[:-4] + ("0000" if not signature.endswith("0000") else "1111")
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def form(fields: dict[str, str]) -> str:
    return urlencode(fields)


# -- articles for the real core ----------------------------------------------------------


def draft(n: int, title: str, text: str, hours_ago: float, source: str = "wire") -> ArticleDraft:
    return ArticleDraft(
        source=source,
        key=f"{source}-{n}",
        title=title,
        text=text,
        published_at=datetime.now(UTC) - timedelta(hours=hours_ago),
        url=f"https://{source}.example/{n}",
    )


# Fed through the real pipeline: two topics, two ages, and one hostile title.
ARTICLES = [
    draft(1, "Ukraine and Russia agree on grain corridor talks", "Ukraine grain talks. " * 20, 1),
    draft(2, "Central bank holds interest rates steady", "Rates unchanged today. " * 20, 10),
    draft(3, EVIL, "A perfectly ordinary article about nothing in particular. " * 5, 2),
]
