"""A loopback feed server with scripted misbehaviour, and fetchers pointed at it.

The server serves the small real feeds in ``tests/data/feeds`` plus routes that behave
like the wild web: 304s, redirect chains and loops, 429/5xx, a 50 MB body, an endless
slow body, gzip, wrong content types, an HTML page, a billion-laughs document and a feed
whose item is edited between two fetches. It records every request.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from bot.sources.fetch import Fetcher, FetchOptions

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
LAST_MODIFIED = "Tue, 10 Jun 2003 09:41:01 GMT"
MB = 1024 * 1024

BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1))) * 10)
        for i in range(1, 10)
    )
    + b']>\n<rss version="2.0"><channel><title>Bomb &lol9;</title>'
    b"<item><guid>b1</guid><title>&lol9;</title><description>&lol9;</description></item>"
    b"</channel></rss>\n"
)

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Welcome</title></head>
<body><h1>Our site</h1><p>This is a home page, not a feed.</p></body></html>
"""

ARTICLE = """<!DOCTYPE html><html><head><title>Long read</title></head><body>
<nav>Home | World | Sport</nav>
<article><h1>Long read</h1>{paragraphs}</article>
<footer>Copyright the publisher</footer></body></html>"""

PARAGRAPH = (
    "<p>Engineers at the river station measured the flood crest for the {n} time this "
    "week, and the readings matched what the upstream gauges had predicted two days "
    "earlier, which the regional authority called a vindication of its warning system.</p>"
)


def edited_feed(version: int) -> bytes:
    """An RSS feed whose first item's title and date change in version 2."""
    title, date = (
        ("Council approves budget", "Mon, 02 Mar 2026 08:00:00 GMT")
        if version == 1
        else ("Council approves revised budget", "Mon, 02 Mar 2026 09:30:00 GMT")
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>City Desk</title><link>https://city.example/</link>
<item><guid isPermaLink="false">city-123</guid><title>{title}</title>
<link>https://city.example/news/budget?utm_source=rss#top</link><pubDate>{date}</pubDate>
<description>The council voted on the budget.</description></item>
<item><title>No guid, v{version} title</title><link>https://city.example/news/park</link>
<pubDate>{date}</pubDate><description>A park opens.</description></item>
</channel></rss>
""".encode()


@dataclass
class FeedServer:
    """Handle on the running server: its base URL and what it saw."""

    base: str
    hits: Counter[str] = field(default_factory=Counter)
    user_agents: list[str] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    max_total: int = 0

    def url(self, path: str) -> str:
        return self.base + path


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def build_app(server: FeedServer) -> web.Application:
    """The routes; each names the misbehaviour it plays."""

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        server.hits[request.path] += 1
        server.user_agents.append(request.headers.get("User-Agent", ""))
        return await handler(request)

    def feed_bytes(name: str) -> bytes:
        path = FEEDS / name
        if not path.is_file() or path.parent != FEEDS:
            raise web.HTTPNotFound()
        return path.read_bytes()

    async def feed(request: web.Request) -> web.Response:
        body = feed_bytes(request.match_info["name"])
        tag = _etag(body)
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers={"ETag": tag})
        ctype = "application/json" if request.match_info["name"].endswith(".json") else None
        return web.Response(
            body=body,
            content_type=ctype or "application/rss+xml",
            headers={"ETag": tag, "Last-Modified": LAST_MODIFIED},
        )

    async def last_modified_only(request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return web.Response(status=304)
        body = feed_bytes(request.match_info["name"])
        return web.Response(body=body, headers={"Last-Modified": LAST_MODIFIED})

    async def no_validators(request: web.Request) -> web.Response:
        body = feed_bytes(request.match_info["name"])
        return web.Response(body=body, content_type="application/xml")

    async def max_age(request: web.Request) -> web.Response:
        body = feed_bytes(request.match_info["name"])
        return web.Response(body=body, headers={"Cache-Control": "public, max-age=7200"})

    async def compressed(request: web.Request) -> web.Response:
        body = feed_bytes(request.match_info["name"])
        coding = request.match_info["coding"]
        packed = gzip.compress(body) if coding == "gzip" else zlib.compress(body)
        return web.Response(
            body=packed,
            headers={"Content-Encoding": coding, "Content-Type": "application/rss+xml"},
        )

    async def wrong_type(request: web.Request) -> web.Response:
        body = feed_bytes(request.match_info["name"])
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    async def html(request: web.Request) -> web.Response:
        return web.Response(body=HTML_PAGE, content_type="text/html")

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(body=BOMB, content_type="application/rss+xml")

    async def redirect(request: web.Request) -> web.Response:
        hops = int(request.match_info["n"])
        code = int(request.query.get("code", "302"))
        target = "/feeds/rss20_liftoff.xml" if hops <= 1 else f"/redirect/{hops - 1}?code={code}"
        raise web.HTTPFound(target) if code == 302 else web.HTTPPermanentRedirect(target)

    async def loop(request: web.Request) -> web.Response:
        other = "b" if request.match_info["side"] == "a" else "a"
        raise web.HTTPFound(f"/loop/{other}")

    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def status(request: web.Request) -> web.Response:
        headers = {}
        if "retry_after" in request.query:
            headers["Retry-After"] = request.query["retry_after"]
        return web.Response(status=int(request.match_info["code"]), headers=headers, text="no")

    async def huge(request: web.Request) -> web.StreamResponse:
        """50 MB of feed-looking bytes, streamed without Content-Length."""
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        chunk = b"<!-- padding -->" * 4096  # 64 KiB
        sent = 0
        try:
            while sent < 50 * MB:
                await response.write(chunk)
                sent += len(chunk)
                server.bytes_sent["/huge"] = sent
        except (ConnectionError, RuntimeError):
            return response
        await response.write_eof()
        return response

    async def huge_declared(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        response.content_length = 50 * MB
        await response.prepare(request)
        server.bytes_sent["/huge-declared"] = 0
        return response

    async def gzip_bomb(request: web.Request) -> web.Response:
        """50 KB on the wire, 50 MB once inflated."""
        packed = gzip.compress(b"\0" * (50 * MB), compresslevel=9)
        return web.Response(
            body=packed,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
        )

    async def slow(request: web.Request) -> web.StreamResponse:
        """A body that never ends: one byte every 50 ms."""
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        try:
            await response.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
            while True:
                await asyncio.sleep(0.05)
                await response.write(b" ")
        except (ConnectionError, RuntimeError):
            return response

    async def editing(request: web.Request) -> web.Response:
        version = 1 if server.hits[request.path] <= 1 else 2
        return web.Response(body=edited_feed(version), content_type="application/rss+xml")

    async def busy(request: web.Request) -> web.Response:
        """Holds each request 100 ms and tracks concurrency per Host header."""
        host = request.headers.get("Host", "").split(":")[0]
        server.in_flight[host] += 1
        server.max_in_flight[host] = max(server.max_in_flight[host], server.in_flight[host])
        server.max_total = max(server.max_total, sum(server.in_flight.values()))
        try:
            await asyncio.sleep(0.1)
        finally:
            server.in_flight[host] -= 1
        return web.Response(body=feed_bytes("rss20_liftoff.xml"))

    async def article(request: web.Request) -> web.Response:
        paragraphs = "\n".join(PARAGRAPH.format(n=n) for n in range(1, 9))
        return web.Response(text=ARTICLE.format(paragraphs=paragraphs), content_type="text/html")

    app = web.Application(middlewares=[record])
    app.router.add_get("/feeds/{name}", feed)
    app.router.add_get("/lm/{name}", last_modified_only)
    app.router.add_get("/novalidators/{name}", no_validators)
    app.router.add_get("/maxage/{name}", max_age)
    app.router.add_get("/enc/{coding}/{name}", compressed)
    app.router.add_get("/wrongtype/{name}", wrong_type)
    app.router.add_get("/html", html)
    app.router.add_get("/bomb", bomb)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/loop/{side}", loop)
    app.router.add_get("/redirect-to", redirect_to)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/huge", huge)
    app.router.add_get("/huge-declared", huge_declared)
    app.router.add_get("/slow", slow)
    app.router.add_get("/gzip-bomb", gzip_bomb)
    app.router.add_get("/editing", editing)
    app.router.add_get("/busy/{n}", busy)
    app.router.add_get("/article/{n}", article)
    return app


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer(base="")
    runner = web.AppRunner(build_app(server), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def loopback_resolver(*names: str) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver that maps ``names`` (public-looking hosts) to 127.0.0.1, no DNS."""

    async def resolve(host: str, port: int) -> list[str]:
        if host in names:
            return ["127.0.0.1"]
        if host == "metadata.test":
            return ["169.254.169.254"]
        raise OSError(f"no such host {host}")

    return resolve


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A fetcher allowed to reach the loopback server, with short timeouts."""
    async with Fetcher(
        FetchOptions(allow_private_networks=True, total_timeout=5.0, connect_timeout=2.0)
    ) as f:
        yield f
