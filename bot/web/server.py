"""The operations HTTP server: health, readiness, Prometheus metrics and the status page.

It knows nothing of the store or the chat SDKs: ``briefbot run`` hands it an
``OpsProbes`` that answers the questions, so the same server serves one process or many.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from bot import metrics
from bot.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_ENV = "BRIEFBOT_WEB_TOKEN"
COOKIE = "briefbot_token"


class OpsProbes(Protocol):
    """What the process knows about itself; every call is cheap and never raises."""

    async def database_problem(self) -> str | None: ...

    def scheduler_role(self) -> str: ...

    def adapter_problems(self) -> dict[str, str | None]: ...

    async def refresh_gauges(self) -> None: ...


StatusPage = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class WebOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(host: str, token: str | None) -> None:
    """Anything but loopback needs a token: the page shows feeds, channels and errors."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"config: [web] host = {host!r} is reachable from other machines; set "
            f"{TOKEN_ENV} to protect the status page and /metrics, or bind 127.0.0.1"
        )


def _authorised(request: web.Request, token: str | None) -> bool:
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    offered = header[7:] if header.lower().startswith("bearer ") else ""
    offered = offered or request.cookies.get(COOKIE, "")
    return bool(offered) and hmac.compare_digest(offered.encode(), token.encode())


LOGIN_FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>briefbot: sign in</title></head><body>
<h1>briefbot</h1><p>{message}</p>
<form method="post" action="/login"><label>Access token
<input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>"""


def build_app(
    probes: OpsProbes, *, token: str | None = None, status_page: StatusPage | None = None
) -> web.Application:
    """The aiohttp application; ``status_page`` serves ``/`` when given."""

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in {"/healthz", "/login"} or _authorised(request, token):
            return await handler(request)
        if request.path == "/metrics" or "text/html" not in request.headers.get("Accept", ""):
            return web.Response(status=401, text="401: a valid access token is needed\n")
        return web.Response(
            status=401,
            content_type="text/html",
            text=LOGIN_FORM.format(message="Enter the access token to see the status page."),
        )

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        problems: list[str] = []
        database = await probes.database_problem()
        if database:
            problems.append(f"database: {database}")
        for name, problem in sorted(probes.adapter_problems().items()):
            if problem:
                problems.append(f"{name}: {problem}")
        role = probes.scheduler_role()
        if problems:
            body = "not ready\n" + "".join(f"- {p}\n" for p in problems)
            return web.Response(status=503, text=body + f"scheduler: {role}\n")
        adapters = ", ".join(sorted(probes.adapter_problems())) or "none"
        return web.Response(text=f"ready\nscheduler: {role}\nadapters: {adapters}\n")

    async def metrics_view(_request: web.Request) -> web.Response:
        await probes.refresh_gauges()
        return web.Response(
            body=metrics.exposition(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def login(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        offered = str(form.get("token", ""))
        if token and offered and hmac.compare_digest(offered.encode(), token.encode()):
            response = web.Response(status=303, headers={"Location": "/"})
            response.set_cookie(COOKIE, offered, httponly=True, samesite="Strict")
            return response
        return web.Response(
            status=401,
            content_type="text/html",
            text=LOGIN_FORM.format(message="That token is not right."),
        )

    app = web.Application(middlewares=[guard])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_post("/login", login)
    if status_page is not None:
        app.router.add_get("/", status_page)
    return app


class WebServer:
    """Runs the app on the configured address; a taken port is logged, never fatal."""

    def __init__(self, app: web.Application, options: WebOptions) -> None:
        self._app = app
        self._options = options
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self) -> bool:
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._options.host, self._options.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            reason = "the port is taken" if exc.errno == errno.EADDRINUSE else str(exc)
            log.error(
                "web: cannot listen on %s:%d (%s); the bot keeps running without the "
                "status page and /metrics. Set [web] port to a free port.",
                self._options.host,
                self._options.port,
                reason,
            )
            return False
        self._runner = runner
        port = self._options.port
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            port = sockets[0].getsockname()[1]
        self.url = f"http://{self._options.host}:{port}/"
        log.info("web: status page and /metrics at %s", self.url)
        return True

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
