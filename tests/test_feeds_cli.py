"""`briefbot feeds …` and `briefbot ingest --once` end to end, against feeds and article
pages served from a loopback HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bot.cli.main import main

NOW = datetime.now(UTC)


def rss(base: str, name: str, items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{base}/{slug}.html</link><guid>{name}-{slug}</guid>"
        f"<pubDate>{format_datetime(NOW - timedelta(minutes=30 + n))}</pubDate>"
        f"<description>{teaser}</description></item>"
        for n, (slug, title, teaser) in enumerate(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>{base}</link><description>d</description>{body}</channel></rss>"
    ).encode()


ARTICLE = (
    "<html><head><title>{title}</title></head><body><nav>Home | World</nav><article>"
    "<h1>{title}</h1>{paras}</article><footer>Copyright</footer></body></html>"
)
FLOOD_PARAS = [
    "Floodwaters rose overnight across the river valley, forcing thousands of residents "
    "to leave their homes as the regional government declared a state of emergency.",
    "Rescue teams in boats reached villages cut off by the water, officials said, and "
    "the army opened three shelters in schools on higher ground.",
    "Forecasters expect more rain through Thursday, and the river is not expected to "
    "crest until the weekend, according to the national weather service.",
    "The prime minister promised emergency funds for farmers whose harvest was lost.",
]

BUDGET_PARAS = [
    "Parliament approved the national budget by 210 votes to 190 after a long night of "
    "debate over pensions, defence spending and a new tax on sugary drinks.",
    "The finance minister called the vote a mandate for stability, while the opposition "
    "said the plan would push up prices for households already under strain.",
]


class Site(BaseHTTPRequestHandler):
    feeds: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        path = self.path.lstrip("/")
        if path.endswith(".html"):
            flood = path.startswith("flood")
            paras = "".join(f"<p>{p}</p>" for p in (FLOOD_PARAS if flood else BUDGET_PARAS))
            title = "River floods valley" if flood else "Budget passes"
            body = ARTICLE.format(title=title, paras=paras).encode()
            self._send(200, "text/html; charset=utf-8", body)
        elif path in self.feeds:
            self._send(200, "application/rss+xml", self.feeds[path])
        elif path == "to-metadata.xml":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif path == "to-localhost.xml":
            self._redirect(f"http://localhost:{self.server.server_address[1]}/world.xml")
        elif path == "broken.xml":
            self._send(500, "text/plain", b"boom")
        else:
            self._send(404, "text/plain", b"no")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    Site.feeds = {
        "world.xml": rss(
            base,
            "World Desk",
            [
                ("flood", "River floods valley, thousands evacuated", "Floodwaters rose."),
                ("budget", "Parliament passes the budget", "The budget passed 210 to 190."),
            ],
        ),
        "wire.xml": rss(
            base,
            "Wire Service",
            [("flood-wire", "Thousands evacuated as river floods valley", "Rescue teams.")],
        ),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()


def config(
    tmp_path: Path, allow_private: bool = True, backfill: int = 0, trusted: str = ""
) -> list[str]:
    path = tmp_path / "briefbot.toml"
    path.write_text(
        f'[bot]\ndatabase_url = "sqlite:///{tmp_path / "bot.db"}"\n'
        f'[sources]\nseeds_dir = "{tmp_path / "no-seeds"}"\n'
        f"allow_private_networks = {'true' if allow_private else 'false'}\n"
        f"backfill = {backfill}\n"
        f"trusted_hosts = [{trusted}]\n"
    )
    return ["--config", str(path)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_ingest_list_brief(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, backfill=10)
    for name in ("world.xml", "wire.xml", "broken.xml"):
        code, out, err = run(capsys, *cfg, "feeds", "add", f"{site}/{name}")
        assert code == 0, err
        assert out.startswith("added: [")
    code, out, err = run(capsys, *cfg, "ingest", "--once")
    assert code == 0, err
    assert "ingest: 3 feeds (1 failed, 2 parsed), 3 new, 0 updated, 0 unchanged" in out
    code, out, _ = run(capsys, *cfg, "feeds", "list", "--format", "json")
    rows = {r["url"].rsplit("/", 1)[1]: r for r in json.loads(out)}
    assert set(rows["world.xml"]) == {"url", "title", "items", "last_fetch", "last_error"}
    assert rows["world.xml"]["title"] == "World Desk" and rows["world.xml"]["items"] == 2
    assert rows["world.xml"]["last_error"] is None and rows["world.xml"]["last_fetch"]
    assert rows["broken.xml"]["items"] == 0 and "500" in rows["broken.xml"]["last_error"]

    code, out, _ = run(capsys, *cfg, "brief", "--format", "json")
    briefing = json.loads(out)
    flood = next(i for i in briefing["items"] if "flood" in i["headline"].lower())
    assert {s["name"] for s in flood["sources"]} == {"World Desk", "Wire Service"}
    assert "state of emergency" in flood["summary"]  # full text came from the page
    assert set(flood["score_parts"]) >= {"recency"}

    again_code, again, _ = run(capsys, *cfg, "ingest", "--once")
    assert again_code == 0 and "0 new" in again


def test_first_run_marks_existing_items_seen(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, backfill=0)
    run(capsys, *cfg, "feeds", "add", f"{site}/world.xml")
    code, out, _ = run(capsys, *cfg, "ingest", "--once")
    assert code == 0
    assert "0 new" in out and "2 existing items marked seen" in out
    code, out, _ = run(capsys, *cfg, "brief")
    assert out.startswith("Nothing new")


def test_backfill_flag_keeps_the_latest_n(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    run(capsys, *cfg, "feeds", "add", f"{site}/world.xml")
    code, out, _ = run(capsys, *cfg, "ingest", "--once", "--backfill", "1")
    assert code == 0
    assert "1 new" in out and "1 existing items marked seen" in out


def test_opml_round_trip_and_remove(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        f'<outline text="News"><outline type="rss" text="World" xmlUrl="{site}/world.xml"/>'
        f'<outline type="rss" text="Wire" xmlUrl="{site}/wire.xml"/></outline>'
        '<outline type="rss" text="Local" xmlUrl="file:///etc/passwd"/></body></opml>'
    )
    code, out, err = run(capsys, *cfg, "feeds", "import", str(opml))
    assert code == 0, err
    assert "import: 2 added, 0 already present, 0 refused" in out
    code, out, _ = run(capsys, *cfg, "feeds", "export")
    assert f"{site}/world.xml" in out and f"{site}/wire.xml" in out
    assert "file:" not in out  # a non-http outline is never imported
    code, out, _ = run(capsys, *cfg, "feeds", "remove", f"{site}/wire.xml")
    assert code == 0 and out.startswith("removed: [")
    code, out, _ = run(capsys, *cfg, "feeds", "list")
    assert "wire.xml" not in out and "world.xml" in out


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed.xml",
        "http://10.0.0.8/rss",
        "file:///etc/passwd",
        "gopher://example.org/",
    ],
)
def test_ssrf_refused_when_private_networks_are_off(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *config(tmp_path, allow_private=False), "feeds", "add", url)
    assert code == 1  # refused: nothing stored
    assert f"I can't add {url}" in err
    assert "Traceback" not in err
    code, out, _ = run(capsys, *config(tmp_path, allow_private=False), "feeds", "list")
    assert url not in out


@pytest.mark.parametrize(
    ("path", "target"),
    [("to-metadata.xml", "169.254.169.254"), ("to-localhost.xml", "localhost")],
)
def test_redirect_to_a_private_address_is_refused_at_add(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str], path: str, target: str
) -> None:
    """The first host is allowed (trusted), but where it redirects is checked again."""
    cfg = config(tmp_path, allow_private=False, trusted='"127.0.0.1"')
    code, _out, err = run(capsys, *cfg, "feeds", "add", f"{site}/{path}")
    assert code == 1
    assert f"I can't add {site}/{path}" in err
    assert target in err and "allow_private_networks" in err
    code, out, _ = run(capsys, *cfg, "feeds", "add", f"{site}/world.xml")
    assert code == 0 and out.startswith("added: [")  # the trusted host itself is fine


def test_unreachable_feed_is_added_with_its_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    code, out, err = run(capsys, *cfg, "feeds", "add", "http://127.0.0.1:9/feed.xml")
    assert code == 0, err
    code, out, _ = run(capsys, *cfg, "feeds", "list", "--format", "json")
    (row,) = json.loads(out)
    assert row["last_error"].startswith("fetch: http://127.0.0.1:9/feed.xml: ")


async def test_each_channel_sees_its_own_feeds(tmp_path: Path, site: str) -> None:
    from bot.chat.console import ConsoleHarness
    from bot.config import test_settings
    from bot.service.core import open_core

    settings = test_settings(
        tmp_path,
        sources={
            "allow_private_networks": True,
            "backfill": 10,
            "seeds_dir": str(tmp_path / "none"),
        },
    )
    core = await open_core(settings)
    try:
        world, wire, everything = (
            ConsoleHarness(core.router, channel=name) for name in ("world", "wire", "all")
        )
        assert "Subscribed this channel" in await world.command(
            f"/briefing subscribe {site}/world.xml"
        )
        assert "Subscribed this channel" in await wire.command(
            f"/briefing subscribe {site}/wire.xml"
        )
        report = await core.feed_ingest().run_once()
        assert report.stats.new == 3
        world_out = await world.command("/briefing")
        assert "Parliament passes the budget" in world_out
        assert "Wire Service" not in world_out
        wire_out = await wire.command("/briefing")
        assert "Wire Service" in wire_out and "budget" not in wire_out.lower()
        all_out = await everything.command("/briefing")  # no subscriptions: every source
        assert "Wire Service" in all_out and "Parliament passes the budget" in all_out
    finally:
        await core.close()


def test_feeds_from_the_config_file(
    tmp_path: Path, site: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, backfill=10)
    path = Path(cfg[1])
    path.write_text(path.read_text() + f'feeds = ["{site}/world.xml"]\n')
    code, out, err = run(capsys, *cfg, "ingest", "--once")
    assert code == 0, err
    assert "ingest: 1 feeds (1 parsed), 2 new" in out


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ('["ftp://example.org/feed"]', "[sources] feeds[0] must be an http(s) URL"),
        ('["http://169.254.169.254/feed"]', "config: [sources] feeds: I can't add"),
    ],
)
def test_bad_feeds_in_the_config_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], feeds: str, message: str
) -> None:
    cfg = config(tmp_path, allow_private=False)
    path = Path(cfg[1])
    path.write_text(path.read_text() + f"feeds = {feeds}\n")
    code, _out, err = run(capsys, *cfg, "ingest", "--once")
    assert code == 2
    assert message in err
