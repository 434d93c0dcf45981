"""The terminal chat, driven the way a user drives it: through the console harness and
through the real `briefbot run` process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.console import ConsoleHarness
from bot.config import test_settings
from bot.service.core import Core, open_core
from tests.support import bot_env

REPO = Path(__file__).resolve().parents[1]
SEED = next((REPO / "seeds").glob("*.txt"))
HEADLINE = SEED.read_text(encoding="utf-8").splitlines()[0].strip()


def seed_folder(tmp_path: Path, hours_old: float) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    copy = folder / SEED.name
    shutil.copy(SEED, copy)
    stamp = time.time() - hours_old * 3600
    os.utime(copy, (stamp, stamp))
    return folder


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    settings = test_settings(tmp_path, sources={"seeds_dir": str(seed_folder(tmp_path, 3))})
    core: Core = await open_core(settings)
    await core.ingest_seeds()
    try:
        yield ConsoleHarness(core.router)
    finally:
        await core.close()


async def test_briefing_shows_the_seed_story(harness: ConsoleHarness) -> None:
    out = await harness.command("/briefing")
    assert out.startswith("Briefing — ")
    first_item = out.split("\n\n")[1]
    assert first_item.startswith(f"1. {HEADLINE[:40]}")
    assert "— seeds," in out


async def test_topic_filter(harness: ConsoleHarness) -> None:
    assert HEADLINE[:40] in await harness.command("/briefing ukraine")
    assert "Briefing on “Ukraine peace”" in await harness.command("/briefing Ukraine peace")
    out = await harness.command("/briefing volcano")
    assert out.startswith("Nothing new about “volcano” in the last 24 hours")


async def test_window(harness: ConsoleHarness) -> None:
    out = await harness.command("/briefing last 1h")
    assert out.startswith("Nothing new in the last 1 hour.")
    assert HEADLINE[:40] in await harness.command("/briefing last 6h")
    assert HEADLINE[:40] in await harness.command("/briefing ukraine last 2d")


async def test_help(harness: ConsoleHarness) -> None:
    out = await harness.command("/briefing help")
    assert out.startswith("How to use /briefing\n")  # chat markup stripped for the terminal
    assert "0 8 * * 1-5" in out
    assert "/briefing last 6h" in out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/briefing ???", "I didn't understand “???”"),
        ("/briefing last banana", "I didn't understand “last banana”"),
        ("/briefing last 90d", "The longest window I keep is 31 days"),
        ("/weather", "Unknown command '/weather'"),
        ("/briefing schedule at teatime", "I couldn't read “at teatime” as a schedule"),
        ("/briefing topics frobnicate x", "Usage: /briefing topics add <words>"),
    ],
)
async def test_nonsense_gets_a_helpful_reply(
    harness: ConsoleHarness, line: str, expected: str
) -> None:
    out = await harness.command(line)
    assert expected in out
    assert "Traceback" not in out


async def test_management_from_the_terminal(harness: ConsoleHarness) -> None:
    assert "Topics of this channel: ukraine" in await harness.command(
        "/briefing topics add ukraine"
    )
    out = await harness.command("/briefing schedule weekdays 08:00 Europe/Kyiv")
    assert out.startswith("Digest scheduled: weekdays at 08:00 (Europe/Kyiv)")
    settings = await harness.command("/briefing settings")
    assert "time zone: Europe/Kyiv" in settings and "topics: ukraine" in settings
    assert "Scheduled digests are off" in await harness.command("/briefing schedule off")
    refused = await harness.command("/briefing subscribe http://127.0.0.1:9/feed.xml")
    assert "I can't add http://127.0.0.1:9/feed.xml" in refused


def _run_bot(tmp_path: Path) -> subprocess.Popen[str]:
    folder = seed_folder(tmp_path, 2)
    config = tmp_path / "briefbot.toml"
    config.write_text(
        f'[bot]\ndatabase_url = "sqlite:///{tmp_path / "bot.db"}"\n'
        f'[sources]\nseeds_dir = "{folder}"\n'
    )
    # stdin is a pipe, not a terminal: --console asks for the terminal chat anyway
    # (without it, `run` is a service; see tests/web/test_service_process.py).
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run", "--console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=bot_env(),
    )


def test_run_answers_in_the_terminal_and_exits_on_eof(tmp_path: Path) -> None:
    proc = _run_bot(tmp_path)
    out, err = proc.communicate("/briefing\n/briefing last 1h\n/briefing help\n", timeout=120)
    assert proc.returncode == 0, err
    assert HEADLINE[:40] in out
    assert "Nothing new in the last 1 hour." in out
    assert "How to use /briefing" in out
    assert "Traceback" not in err


def test_run_exits_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = _run_bot(tmp_path)
    assert proc.stdout is not None
    greeting = proc.stdout.readline()
    assert greeting.startswith("briefbot console")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
