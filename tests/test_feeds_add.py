"""`feeds add` and `/briefing subscribe` say what they found: a feed with its title and
size, a feed discovered on a web page, a refusal with the reason (nothing stored), or a
passing failure added with a warning. Everything is served from 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.chat.console import ConsoleHarness
from bot.cli.main import main
from bot.service.core import open_core

NOW = datetime.now(UTC)

Route = Callable[[BaseHTTPRequestHandler, str], None]


def rss(base: str, title: str, n: int) -> bytes:
    items = "".join(
        f"<item><title>Story {i}</title><link>{base}/story-{i}.html</link>"
        f"<guid>{title}-{i}</guid>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=2 + i))}</pubDate>"
        f"<description>Teaser {i}.</description></item>"
        for i in range(n)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{base}</link><description>d</description>{items}</channel></rss>"
    ).encode()


def atom(base: str, title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>{base}/atom</id><updated>{NOW.isoformat()}</updated>"
        f'<entry><title>Atom story</title><id>{base}/a1</id><link href="{base}/a1.html"/>'
        f"<updated>{NOW.isoformat()}</updated><summary>s</summary></entry></feed>"
    ).encode()


def page(*links: str) -> bytes:
    tags = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="t" href="{href}">'
        for href in links
    )
    return (
        f"<!doctype html><html><head><title>Harbour</title>{tags}</head>"
        "<body><p>Welcome to the harbour news site.</p></body></html>"
    ).encode()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def endless(handler: BaseHTTPRequestHandler, _base: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.end_headers()
    chunk = b"<!-- " + b"x" * 65_000 + b" -->"
    try:
        for _ in range(10_000):  # ~650 MB: far past any cap
            handler.wfile.write(chunk)
    except OSError:
        return  # the client hung up at its cap


def slow(handler: BaseHTTPRequestHandler, base: str) -> None:
    time.sleep(4)
    try:
        send(handler, 200, rss(base, "Slow", 1), "application/rss+xml")
    except OSError:
        return


ROUTES: dict[str, Route] = {
    "/feed.xml": lambda h, b: send(h, 200, rss(b, "Harbour News", 25), "application/rss+xml"),
    "/atom-feed.xml": lambda h, b: send(h, 200, atom(b, "Harbour Atom"), "application/atom+xml"),
    "/one": lambda h, b: send(h, 200, page("/feed.xml"), "text/html; charset=utf-8"),
    "/two": lambda h, b: send(h, 200, page("feed.xml", "/atom-feed.xml"), "text/html"),
    "/plain": lambda h, b: send(h, 200, page(), "text/html"),
    "/private": lambda h, b: send(h, 200, page("http://10.0.0.1/feed.xml"), "text/html"),
    "/missing": lambda h, b: send(h, 404, b"no", "text/plain"),
    "/gone": lambda h, b: send(h, 410, b"gone", "text/plain"),
    "/endless": endless,
    "/slow": slow,
}


def serve(routes: dict[str, Route]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://{self.headers['Host']}"
            route = routes.get(self.path.split("?")[0])
            if route is None:
                send(self, 404, b"not here", "text/plain")
            else:
                route(self, base)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture
def site() -> Iterator[str]:
    yield from serve(ROUTES)


@pytest.fixture
def site_with_feed_path() -> Iterator[str]:
    """A site whose home page names no feed, but ``/feed`` answers."""
    yield from serve(
        {
            "/": lambda h, b: send(h, 200, page(), "text/html"),
            "/feed": lambda h, b: send(h, 200, rss(b, "Conventional", 3), "application/rss+xml"),
        }
    )


def config(tmp_path: Path) -> list[str]:
    path = tmp_path / "briefbot.toml"
    path.write_text(
        f'[bot]\ndatabase_url = "sqlite:///{tmp_path / "bot.db"}"\n'
        f'[sources]\nseeds_dir = "{tmp_path / "no-seeds"}"\n'
        'trusted_hosts = ["127.0.0.1"]\n'  # loopback is our site; the guard still holds
        "max_body_mb = 1\nfetch_timeout_s = 1.5\n"
    )
    return ["--config", str(path)]


def add(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str) -> tuple[int, str, str]:
    code = main([*config(tmp_path), "feeds", "add", url])
    out, err = capsys.readouterr()
    return code, out, err


def stored(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> list[dict[str, object]]:
    assert main([*config(tmp_path), "feeds", "list", "--format", "json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def test_a_feed_is_added_with_its_title_and_item_count(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = add(capsys, tmp_path, f"{site}/feed.xml")
    assert code == 0, err
    assert out.strip() == "added: [1] Harbour News — 25 items (latest 2 h ago)"
    (row,) = stored(capsys, tmp_path)
    assert (row["url"], row["title"], row["last_error"]) == (
        f"{site}/feed.xml",
        "Harbour News",
        None,
    )


def test_a_page_with_an_alternate_link_subscribes_to_its_feed(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = add(capsys, tmp_path, f"{site}/one")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "added: [1] Harbour News — 25 items (latest 2 h ago)"
    assert lines[1].strip() == f"found on {site}/one: {site}/feed.xml"
    assert [r["url"] for r in stored(capsys, tmp_path)] == [f"{site}/feed.xml"]


def test_a_page_with_two_links_takes_the_first_and_lists_both(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = add(capsys, tmp_path, f"{site}/two")
    assert code == 0, err
    assert f"found on {site}/two: {site}/feed.xml" in out  # relative href resolved
    assert f"other feeds there: {site}/atom-feed.xml" in out
    assert [r["url"] for r in stored(capsys, tmp_path)] == [f"{site}/feed.xml"]


def test_a_page_without_links_falls_back_to_slash_feed(
    tmp_path: Path, site_with_feed_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = add(capsys, tmp_path, f"{site_with_feed_path}/")
    assert code == 0, err
    assert out.startswith("added: [1] Conventional — 3 items")
    assert f"found on {site_with_feed_path}/: {site_with_feed_path}/feed" in out
    assert [r["url"] for r in stored(capsys, tmp_path)] == [f"{site_with_feed_path}/feed"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/plain", "a web page that names no feed"),
        ("/missing", "HTTP 404, not found"),
        ("/gone", "HTTP 410, gone for good"),
        ("/endless", "larger than 1 MB"),
    ],
)
def test_permanent_failures_are_refused_and_nothing_is_stored(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str], path: str, reason: str
) -> None:
    code, out, err = add(capsys, tmp_path, f"{site}{path}")
    assert code == 1
    assert out == ""
    assert f"I can't add {site}{path}: " in err
    assert reason in err
    assert stored(capsys, tmp_path) == []


def test_the_endless_response_is_refused_as_too_large(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = add(capsys, tmp_path, f"{site}/endless")
    assert code == 1
    assert "response larger than 1 MB, aborted" in err, err


def test_a_slow_server_is_added_with_a_warning_and_retried(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = add(capsys, tmp_path, f"{site}/slow")
    assert code == 0, err
    assert out.startswith(f"added: [1] {site}/slow — warning: the first fetch failed (")
    assert "timed out" in out
    assert "I'll retry at" in out
    (row,) = stored(capsys, tmp_path)
    assert "timed out" in str(row["last_error"])


def test_an_alternate_link_to_a_private_address_is_refused_by_the_guard(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = add(capsys, tmp_path, f"{site}/private")
    assert code == 1
    assert f"I can't add {site}/private" in err
    assert "10.0.0.1" in err
    assert stored(capsys, tmp_path) == []


def test_feed_scheme_is_accepted(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = add(capsys, tmp_path, f"feed:{site}/feed.xml")
    assert code == 0, err
    assert out.startswith("added: [1] Harbour News")
    assert [r["url"] for r in stored(capsys, tmp_path)] == [f"{site}/feed.xml"]


def test_opml_outline_pointing_to_a_page_imports_the_discovered_feed(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline text="Harbour" type="rss" xmlUrl="{site}/one"/>'
        f'<outline text="Nothing" type="rss" xmlUrl="{site}/plain"/>'
        "</body></opml>"
    )
    code = main([*config(tmp_path), "feeds", "import", str(opml)])
    out, err = capsys.readouterr()
    assert code == 1  # one refused
    assert "import: 1 added, 0 already present, 1 refused" in out
    assert f"found on {site}/one: {site}/feed.xml" in out
    assert "a web page that names no feed" in err
    assert [r["url"] for r in stored(capsys, tmp_path)] == [f"{site}/feed.xml"]


async def test_subscribe_in_chat_says_what_it_found(tmp_path: Path, site: str) -> None:
    from bot.config import test_settings

    settings = test_settings(
        tmp_path, sources={"trusted_hosts": ["127.0.0.1"], "fetch_timeout_s": 1.5}
    )
    core = await open_core(settings)
    try:
        chat = ConsoleHarness(core.router, channel="news")
        reply = await chat.command(f"/briefing subscribe {site}/two")
        assert reply.startswith(f"Subscribed this channel to {site}/feed.xml (feed 1): ")
        assert "Harbour News — 25 items (latest 2 h ago)" in reply
        assert f"other feeds there: {site}/atom-feed.xml" in reply
        refused = await chat.command(f"/briefing subscribe {site}/missing")
        assert f"I can't add {site}/missing: HTTP 404, not found" in refused
        warned = await chat.command(f"/briefing subscribe {site}/slow")
        assert "warning: the first fetch failed" in warned and "timed out" in warned
        urls = [f.url for f in await core.subscriptions.feeds()]
        assert urls == [f"{site}/feed.xml", f"{site}/slow"]
    finally:
        await core.close()


def test_run_help_lists_the_environment_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "DISCORD_TOKEN",
        "BRIEFBOT_DATABASE_URL",
        "BRIEFBOT_WEB_TOKEN",
    ):
        assert name in out


async def test_the_terminal_chat_says_how_to_add_a_feed_and_connect_chat() -> None:
    import io

    from bot.chat.console import run_repl
    from bot.core.models import Reply

    class Quiet:
        async def dispatch(self, cmd: object) -> Reply:
            return Reply(text="ok")

    out = io.StringIO()
    harness = ConsoleHarness(Quiet())  # type: ignore[arg-type]
    await run_repl(harness, stdin=io.StringIO(""), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("briefbot console")
    assert lines[1].startswith("Add a feed: /briefing subscribe <site or feed URL>")
    assert 'README: "Commands"' in lines[1]
    assert lines[2].startswith("Connect Slack or Discord: export SLACK_BOT_TOKEN")
    assert 'README: "Connecting Slack and Discord"' in lines[2]
