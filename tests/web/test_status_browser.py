"""The status page in a real headless Chromium, served by a real `briefbot run`.

CI installs Debian's chromium (see .ci/run); elsewhere the test skips with the reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.config import test_settings
from bot.service.core import open_core
from bot.service.ops import next_digest
from tests.bot_process import run_child
from tests.web.status_seed import FAILING_ERROR, seed_status

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser_or_skip() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium for the browser test (.ci/run installs it)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    return CHROMIUM


async def test_a_person_sees_feeds_errors_the_next_digest_and_the_preview(
    tmp_path: Path,
) -> None:
    chromium = _browser_or_skip()
    from datetime import UTC, datetime

    from playwright.async_api import async_playwright

    from tests.support import REPO

    settings = test_settings(tmp_path)
    core = await open_core(settings)
    try:
        await seed_status(core)
        headline = (await core.briefings.compose()).items[0].headline
    finally:
        await core.close()
    config = tmp_path / "briefbot.toml"
    config.write_text(
        f'[bot]\ndatabase_url = "{settings.database_url}"\n'
        f'[sources]\nseeds_dir = "{REPO / "seeds"}"\n'
        "[web]\nenabled = true\nport = 0\n",
        encoding="utf-8",
    )
    shot = tmp_path / "status.png"
    async with run_child(config) as child:
        url = f"http://127.0.0.1:{await child.port_of('web')}/"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, headless=True)
            try:
                page = await browser.new_page(
                    viewport={"width": 390, "height": 844}, java_script_enabled=False
                )
                await page.goto(url)
                feeds = await page.locator("tr.feed").all_inner_texts()
                channels = await page.locator("tr.channel").all_inner_texts()
                preview = await page.locator(".story h3").first.inner_text()
                await page.screenshot(path=str(shot), full_page=True)
            finally:
                await browser.close()
        assert await child.stop() == 0
    text = "\n".join(feeds)
    assert "Broken Gazette" in text
    assert "Healthy Wire" in text
    assert FAILING_ERROR in text
    expected = next_digest("0 8 * * mon-fri", "Europe/Berlin", datetime.now(UTC))
    assert expected is not None
    assert expected.strftime("%a %d %b %H:%M %Z") in "\n".join(channels)
    assert headline in preview
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
