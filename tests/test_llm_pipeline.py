"""The optional LLM summariser wired through the ingest pipeline, against a fake
OpenAI-compatible endpoint on loopback: its summary is stored, and any failure falls
back to the extractive one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import test_settings
from bot.service.core import open_core
from tests.support import serve_app

CANNED = "White House says Ukraine peace talks start in the Middle East after a Trump-Putin call."


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, list[dict[str, object]], dict[str, int]]]:
    calls: list[dict[str, object]] = []
    mode = {"status": 200}

    async def completions(request: web.Request) -> web.Response:
        calls.append(await request.json())
        if mode["status"] != 200:
            return web.Response(status=mode["status"], text="overloaded")
        return web.json_response(
            {"choices": [{"message": {"content": CANNED}, "finish_reason": "stop"}]}
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    async with serve_app(app) as base:
        yield f"{base}/v1", calls, mode


@pytest.mark.parametrize("status", [200, 503])
async def test_llm_summary_or_fallback(
    tmp_path: Path, endpoint: tuple[str, list[dict[str, object]], dict[str, int]], status: int
) -> None:
    url, calls, mode = endpoint
    mode["status"] = status
    settings = test_settings(tmp_path, llm={"enabled": True, "base_url": url, "model": "tiny"})
    core = await open_core(settings)
    try:
        await core.ingest_seeds()
        briefing = await core.briefings.compose()
    finally:
        await core.close()
    assert len(calls) == 1 and calls[0]["model"] == "tiny"
    summary = briefing.items[0].summary
    if status == 200:
        assert summary == CANNED
    else:
        assert summary != CANNED and summary.startswith("The White House has confirmed")
