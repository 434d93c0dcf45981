"""The LLM summariser against a fake OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.errors import ConfigError, SummarizeError
from bot.text.llm import (
    SYSTEM_PROMPT,
    LLMOptions,
    LLMSummarizer,
    MemorySummaryCache,
    build_messages,
    clean_completion,
    estimate_tokens,
    truncate_to_tokens,
)

KEY = "sk-test-5f1c9a7e2b_do_not_leak"
ENV = "BRIEFBOT_LLM_API_KEY"
CANNED = "Parliament approved the budget on Tuesday. Finance minister Ana Lopez called it fair."
ARTICLE = (
    "Parliament approved the 2027 budget on Tuesday by 201 votes to 150. "
    "Finance minister Ana Lopez said the plan was fair. "
    "The opposition said it would challenge the vote in court."
)


class LeadSentences:
    """A tiny extractive stand-in: the first two sentences."""

    def summarize(self, title: str, text: str) -> str:
        return " ".join(text.split(". ")[:2]).strip()

    def summarize_many(self, items: Sequence[tuple[str, str]]) -> list[str]:
        return [self.summarize(title, text) for title, text in items]


FALLBACK = LeadSentences().summarize("", ARTICLE)


def completion(content: Any, finish_reason: str = "stop") -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    return {
        "id": "c1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }


@dataclass
class FakeLLM:
    """Records requests; ``respond`` decides each answer."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    respond: Callable[[dict[str, Any]], Any] = lambda body: web.json_response(completion(CANNED))
    release: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    max_in_flight: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let concurrent requests overlap
            result = self.respond(body)
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[no-any-return]
        finally:
            self.in_flight -= 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    server = FakeLLM()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}/v1"
    yield server
    server.release.set()
    await runner.cleanup()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


def make(fake: FakeLLM, **kwargs: Any) -> LLMSummarizer:
    options = {"base_url": fake.url, "model": "qwen2.5:3b", **kwargs.pop("options", {})}
    return LLMSummarizer(LLMOptions(**options), LeadSentences(), **kwargs)


async def test_success_sends_model_messages_budget_and_key(fake: FakeLLM) -> None:
    async with make(fake, options={"max_output_tokens": 120, "temperature": 0.2}) as llm:
        summary = await llm.summarize_async("Budget passes", ARTICLE)
    assert summary == CANNED
    (body,) = fake.requests
    assert body["model"] == "qwen2.5:3b"
    assert body["max_tokens"] == 120
    assert body["temperature"] == 0.2
    assert body["stream"] is False
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert user["role"] == "user"
    assert "Title: Budget passes" in user["content"]
    assert ARTICLE in user["content"]
    assert fake.headers[0]["Authorization"] == f"Bearer {KEY}"


async def test_no_key_in_env_sends_no_authorization(
    fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV)
    async with make(fake) as llm:
        assert await llm.summarize_async("t", ARTICLE) == CANNED
    assert "Authorization" not in fake.headers[0]


async def test_cache_hit_makes_no_request(fake: FakeLLM) -> None:
    shared = MemorySummaryCache()
    async with make(fake, cache=shared) as llm:
        first = await llm.summarize_async("Budget passes", ARTICLE)
        second = await llm.summarize_async("Budget passes", ARTICLE)
        assert first == second == CANNED
        assert len(fake.requests) == 1
        await llm.summarize_async("Budget passes", ARTICLE + " One more fact.")
        assert len(fake.requests) == 2
    # A new process backed by the same persistent cache asks nothing either.
    async with make(fake, cache=shared) as again:
        assert await again.summarize_async("Budget passes", ARTICLE) == CANNED
    assert len(fake.requests) == 2
    assert len(shared) == 2


async def test_cache_key_depends_on_model(fake: FakeLLM) -> None:
    shared = MemorySummaryCache()
    async with make(fake, cache=shared) as llm:
        await llm.summarize_async("t", ARTICLE)
    async with make(fake, cache=shared, options={"model": "llama3.2"}) as other:
        await other.summarize_async("t", ARTICLE)
    assert [r["model"] for r in fake.requests] == ["qwen2.5:3b", "llama3.2"]


async def test_http_500_falls_back_and_is_not_cached(fake: FakeLLM) -> None:
    fake.respond = lambda body: web.Response(status=500, text="model crashed")
    async with make(fake, failure_cooldown_s=0) as llm:
        assert await llm.summarize_async("t", ARTICLE) == FALLBACK
        fake.respond = lambda body: web.json_response(completion(CANNED))
        assert await llm.summarize_async("t", ARTICLE) == CANNED
    assert len(fake.requests) == 2


async def test_timeout_falls_back(fake: FakeLLM) -> None:
    async def slow(body: dict[str, Any]) -> web.Response:
        await fake.release.wait()  # until the test tears the server down
        return web.json_response(completion(CANNED))

    fake.respond = slow
    async with make(fake, options={"timeout_s": 0.05}) as llm:
        assert await llm.summarize_async("t", ARTICLE) == FALLBACK
        with pytest.raises(SummarizeError, match="timed out"):
            await llm.complete("t", ARTICLE)


@pytest.mark.parametrize(
    "reply",
    [
        web.Response(text="{not json", content_type="application/json"),
        web.Response(text="<html>Bad gateway</html>", content_type="text/html"),
        web.json_response({"choices": []}),
        web.json_response({"error": {"message": "model not found"}}),
        web.json_response(completion(None)),
        web.json_response(completion("   ")),
        web.json_response(completion("I'm sorry, but I can't help with that.")),
        web.json_response({"choices": [{"message": {"content": None, "refusal": "No."}}]}),
        web.json_response(completion("<think>The article is about")),
        web.json_response(completion("The budget was approved by", finish_reason="length")),
    ],
    ids=[
        "bad-json",
        "html",
        "no-choices",
        "error-object",
        "null-content",
        "blank",
        "refusal",
        "refusal-field",
        "unfinished-think",
        "cut-off",
    ],
)
async def test_unusable_answers_fall_back(fake: FakeLLM, reply: web.Response) -> None:
    fake.respond = lambda body: reply
    async with make(fake) as llm:
        assert await llm.summarize_async("t", ARTICLE) == FALLBACK
    assert len(fake.requests) == 1


async def test_unreachable_endpoint_falls_back() -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = LLMOptions(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=5)
    async with LLMSummarizer(options, LeadSentences()) as llm:
        assert await llm.summarize_async("t", ARTICLE) == FALLBACK


async def test_cooldown_skips_endpoint_after_failure(fake: FakeLLM) -> None:
    now = [100.0]
    fake.respond = lambda body: web.Response(status=503, text="loading model")
    async with make(fake, failure_cooldown_s=30, clock=lambda: now[0]) as llm:
        assert await llm.summarize_async("a", ARTICLE) == FALLBACK
        assert await llm.summarize_async("b", ARTICLE) == FALLBACK
        assert len(fake.requests) == 1
        now[0] += 31
        fake.respond = lambda body: web.json_response(completion(CANNED))
        assert await llm.summarize_async("c", ARTICLE) == CANNED
    assert len(fake.requests) == 2


def within_budget(messages: list[dict[str, str]], budget: int) -> bool:
    """Independent of the module's estimator: both rules of thumb must fit."""
    contents = [m["content"] for m in messages]
    chars = sum(len(c) for c in contents)
    words = sum(len(c.split()) for c in contents)
    framing = 8 * len(messages)
    return math.ceil(chars / 4) + framing <= budget and math.ceil(words * 1.3) + framing <= budget


async def test_huge_article_is_cut_at_a_sentence_within_budget(fake: FakeLLM) -> None:
    huge = " ".join(
        f"In paragraph {i}, Dr. Maria Ruiz of the U.S. agency said costs rose 2.5% to $1.{i} bn."
        for i in range(20_000)
    )
    async with make(fake, options={"max_input_tokens": 600}) as llm:
        assert await llm.summarize_async("Costs rise", huge) == CANNED
    (body,) = fake.requests
    assert within_budget(body["messages"], 600)
    user = body["messages"][1]["content"]
    sent = user.split("Article:\n", 1)[1].split("\n[The article is cut here.]", 1)[0]
    assert huge.startswith(sent)
    assert sent.endswith(" bn.")  # a whole sentence, not cut inside "U.S." or "2.5"
    assert len(sent) > 1000  # and the budget is used, not wasted


def test_truncate_falls_back_to_words_then_characters() -> None:
    run_on = "word " * 5000  # no sentence boundary at all
    cut, was_cut = truncate_to_tokens(run_on, 100)
    assert was_cut and estimate_tokens(cut) <= 100 and cut.endswith("word")
    cjk = "北京市政府宣布新的交通规划" * 500
    cut, was_cut = truncate_to_tokens(cjk, 100)
    assert was_cut and 0 < len(cut) <= 100 and cjk.startswith(cut)
    assert truncate_to_tokens(ARTICLE, 2000) == (ARTICLE, False)


def test_long_title_is_bounded() -> None:
    messages = build_messages("Breaking " * 5000, ARTICLE, 500)
    assert within_budget(messages, 500)
    assert ARTICLE in messages[1]["content"]


def test_answers_are_cleaned_to_three_sentences() -> None:
    raw = "<think>Let me see.</think>\n**Summary:** One. Mr. Smith said it. Three. Four."
    assert clean_completion(raw) == "One. Mr. Smith said it. Three."
    assert clean_completion("- First point.\n- Second point.") == "First point. Second point."
    assert clean_completion("It passed. It now goes to", "length") == "It passed."


async def test_api_key_never_in_errors_logs_or_repr(
    fake: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    def echo_key(body: dict[str, Any]) -> web.Response:
        # Real servers echo the key back; here it also straddles the error snippet's cut.
        message = "Incorrect API key provided: " + "x" * 250 + KEY
        return web.json_response({"error": message}, status=401)

    fake.respond = echo_key
    caplog.set_level(logging.DEBUG)
    async with make(fake) as llm:
        assert await llm.summarize_async("t", ARTICLE) == FALLBACK
        with pytest.raises(SummarizeError) as info:
            await llm.complete("t", ARTICLE)
        assert KEY not in repr(llm) and KEY not in str(vars(llm.options))
    assert "HTTP 401" in str(info.value)
    assert KEY[:10] not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in "".join(traceback.format_exception(info.value))
    assert "HTTP 401" in caplog.text
    assert KEY not in caplog.text and KEY[:10] not in caplog.text
    for record in caplog.records:
        assert KEY not in record.getMessage() and record.exc_info is None


async def test_summarize_many_keeps_order_and_limits_concurrency(fake: FakeLLM) -> None:
    fake.respond = lambda body: web.json_response(
        completion(f"About {body['messages'][1]['content'].split()[1]}.")
    )
    items = [(f"topic{i}", f"Story number {i} happened today.") for i in range(12)]
    async with make(fake, max_concurrency=3) as llm:
        results = await llm.summarize_many(items)
    assert results == [f"About topic{i}." for i in range(12)]
    assert 1 <= fake.max_in_flight <= 3


async def test_empty_text_uses_fallback_without_request(fake: FakeLLM) -> None:
    async with make(fake) as llm:
        assert await llm.summarize_async("Only a title", "  ") == ""
    assert fake.requests == []


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"base_url": "ftp://host/v1"}, "base_url"),
        ({"base_url": "localhost:11434"}, "base_url"),
        ({"model": " "}, "model"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_input_tokens": 50}, "max_input_tokens"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": 3.0}, "temperature"),
    ],
)
def test_options_are_validated(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[llm\] {key}"):
        LLMOptions(**{"base_url": "http://127.0.0.1:11434/v1", "model": "m", **changes})


def test_endpoint_accepts_either_form() -> None:
    base = LLMOptions(base_url="http://h:8000/v1/", model="m")
    full = LLMOptions(base_url="https://api.openai.com/v1/chat/completions", model="m")
    assert base.endpoint == "http://h:8000/v1/chat/completions"
    assert full.endpoint == "https://api.openai.com/v1/chat/completions"


class BrokenCache:
    def get(self, key: str) -> str | None:
        raise OSError("database is locked")

    def put(self, key: str, value: str) -> None:
        raise OSError("database is locked")


async def test_broken_persistent_cache_is_ignored(
    fake: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    async with make(fake, cache=BrokenCache()) as llm:
        assert await llm.summarize_async("t", ARTICLE) == CANNED
        assert await llm.summarize_async("t", ARTICLE) == CANNED  # from the in-process LRU
    assert len(fake.requests) == 1
    assert "summary cache get failed: OSError" in caplog.text
    assert "summary cache put failed: OSError" in caplog.text
