"""Optional abstractive summaries from any OpenAI-compatible chat-completions endpoint.

Ollama, llama.cpp's server, vLLM and OpenAI all speak ``POST {base_url}/chat/completions``.
The LLM is a nicety, never a dependency: any failure (HTTP error, timeout, malformed JSON,
empty answer, refusal) falls back to the extractive summariser, and the endpoint is then
skipped for a cool-down so a dead server does not cost one timeout per article. Results
are cached by content hash (in-process LRU plus an optional persistent ``SummaryCache``).
The prompt stays within ``max_input_tokens`` (conservative estimate, article cut at a
sentence boundary); the API key comes from the environment and is never logged or shown.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
import logging
import math
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import sentencex

from bot import USER_AGENT
from bot.core.ports import Summarizer
from bot.errors import ConfigError, SummarizeError

log = logging.getLogger(__name__)

PROMPT_VERSION = "1"  # bump when the prompt changes so cached summaries are not reused
SYSTEM_PROMPT = (
    "You summarise news articles for a team's chat briefing. Write 1 to 3 plain sentences "
    "that say what happened. Keep the key facts, numbers and dates, and the names of "
    "people, places and organisations exactly as the article gives them. Do not add "
    "anything the article does not say, no opinions, no preamble, no lists, no markdown. "
    "Write in the language of the article."
)
USER_SUFFIX = "\n\nSummarise the article above in 1 to 3 sentences."
TRUNCATED_NOTE = "\n[The article is cut here.]"
TITLE_TOKENS = 100  # a title longer than this is cut; keeps the fixed overhead bounded
MESSAGE_OVERHEAD_TOKENS = 8  # role and framing tokens per chat message
MIN_INPUT_TOKENS = 400
MAX_RESPONSE_BYTES = 1 << 20
MAX_SENTENCES = 3
_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry,|i can(?:not|'t)|i am unable|i'm unable|"
    r"i won'?t|as an ai)\b",
    re.IGNORECASE,
)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^\W*(?:summary|tl;?dr)\s*:\s*\**\s*", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)
_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_TERMINAL = re.compile(r"[.!?…。][\"'”’)]*$")


@dataclass(frozen=True)
class LLMOptions:
    """The ``[llm]`` config section. The key itself lives in the env var ``api_key_env``."""

    base_url: str
    model: str
    api_key_env: str = "BRIEFBOT_LLM_API_KEY"
    timeout_s: float = 20.0
    max_input_tokens: int = 2000
    max_output_tokens: int = 200
    temperature: float = 0.0

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        checks = [
            (url.scheme in ("http", "https") and bool(url.netloc), "base_url must be http(s)"),
            (bool(self.model.strip()), "model is required"),
            (self.timeout_s > 0, "timeout_s must be positive"),
            (self.max_input_tokens >= MIN_INPUT_TOKENS, f"max_input_tokens < {MIN_INPUT_TOKENS}"),
            (self.max_output_tokens >= 16, "max_output_tokens must be at least 16"),
            (0.0 <= self.temperature <= 2.0, "temperature must be between 0 and 2"),
        ]
        for ok, problem in checks:
            if not ok:
                raise ConfigError(f"[llm] {problem}")

    @property
    def endpoint(self) -> str:
        """The chat-completions URL; a base URL that already names it is taken as is."""
        base = self.base_url.rstrip("/")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"


class SummaryCache(Protocol):
    """Persistent summary cache keyed by content hash (e.g. a DB table the lead backs).

    Both calls must be quick and must not block the event loop for long; errors they raise
    are logged and ignored (a cache is never worth a failed summary).
    """

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class MemorySummaryCache:
    """A ``SummaryCache`` in process memory with least-recently-used eviction."""

    def __init__(self, maxsize: int = 1024) -> None:
        self._maxsize = max(1, maxsize)
        self._items: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._maxsize:
            self._items.popitem(last=False)


def estimate_tokens(text: str) -> int:
    """A conservative token count without a tokenizer.

    The larger of chars/4 and words×1.3 (BPE tokenizers give about 4 characters or 0.75
    words per token in English), plus one per CJK character, which tokenizers split finely.
    """
    if not text:
        return 0
    base = max(math.ceil(len(text) / 4), math.ceil(len(text.split()) * 1.3))
    return base + len(_WIDE.findall(text))


def _longest_fitting(text: str, ends: Sequence[int], budget: int) -> int:
    """Largest end offset in ``ends`` whose prefix fits ``budget`` (0 if none).

    Estimates are monotonic in the prefix length, so a binary search suffices.
    """
    index = bisect.bisect_right(
        range(len(ends)), False, key=lambda i: estimate_tokens(text[: ends[i]].rstrip()) > budget
    )
    return ends[index - 1] if index > 0 else 0


def truncate_to_tokens(text: str, budget: int) -> tuple[str, bool]:
    """Cut ``text`` to at most ``budget`` estimated tokens; returns (text, was_cut).

    Cuts after the last whole sentence that fits; only when not even the first sentence
    fits does it cut between words, and between characters only for a run without spaces.
    """
    text = text.strip()
    if estimate_tokens(text) <= budget:
        return text, False
    if budget <= 0:
        return "", True
    # No prefix longer than 4×budget characters can fit, so only that window is segmented.
    window = text[: budget * 4 + 1]
    ends: list[int] = []
    offset = 0
    for sentence in sentencex.segment("en", window):
        offset += len(sentence)
        ends.append(offset)
    if ends and ends[-1] >= len(window) and len(window) < len(text):
        ends.pop()  # the window cut this one mid-sentence
    end = _longest_fitting(window, ends, budget)
    if end == 0:
        end = _longest_fitting(window, [m.end() for m in re.finditer(r"\S+", window)], budget)
    if end == 0:
        end = _longest_fitting(window, range(1, len(window) + 1), budget)
    return window[:end].rstrip(), True


def build_messages(title: str, text: str, max_input_tokens: int) -> list[dict[str, str]]:
    """The chat messages for one article, within ``max_input_tokens`` estimated tokens."""
    title, _ = truncate_to_tokens(" ".join(title.split()), TITLE_TOKENS)
    prefix = f"Title: {title}\n\nArticle:\n"
    overhead = (
        estimate_tokens(SYSTEM_PROMPT)
        + estimate_tokens(prefix)
        + estimate_tokens(TRUNCATED_NOTE + USER_SUFFIX)
        + 2 * MESSAGE_OVERHEAD_TOKENS
    )
    article, cut = truncate_to_tokens(text, max_input_tokens - overhead)
    if not article:
        raise SummarizeError("llm: max_input_tokens leaves no room for the article")
    user = prefix + article + (TRUNCATED_NOTE if cut else "") + USER_SUFFIX
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def cache_key(options: LLMOptions, title: str, text: str) -> str:
    """Content hash of everything that shapes the summary (not the endpoint or the key)."""
    o = options
    material = [PROMPT_VERSION, o.model, o.max_input_tokens, o.max_output_tokens, o.temperature]
    return "llm:" + hashlib.sha256(json.dumps([*material, title, text]).encode("utf-8")).hexdigest()


def clean_completion(content: str, finish_reason: str | None = None) -> str:
    """Turn a model's answer into 1–3 plain sentences, or raise ``SummarizeError``.

    Drops reasoning blocks, "Summary:" labels, bullets and markdown emphasis; refuses
    refusals; when the answer hit the token limit, drops its unfinished last sentence.
    """
    content = _THINK.sub(" ", content)
    if "<think>" in content.lower():
        raise SummarizeError("llm: the answer is an unfinished reasoning block")
    content = _BULLET.sub("", _LABEL.sub("", content.strip())).replace("**", "")
    content = " ".join(content.split())
    if len(content) > 1 and content[0] in '"“' and content[-1] in '"”' and content.count('"') < 3:
        content = content[1:-1].strip()  # the whole answer in quotes
    if not content:
        raise SummarizeError("llm: empty answer")
    if _REFUSAL.match(content):
        raise SummarizeError("llm: the model refused")
    sentences = [s.strip() for s in sentencex.segment("en", content) if s.strip()]
    if finish_reason == "length" and sentences and not _TERMINAL.search(sentences[-1]):
        sentences.pop()
    if not sentences:
        raise SummarizeError("llm: the answer was cut off before one whole sentence")
    return " ".join(sentences[:MAX_SENTENCES])


def parse_completion(raw: bytes) -> str:
    """Extract and clean the answer from a chat-completions response body."""
    try:
        data: Any = json.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
        content = message.get("content")
        finish_reason = choice.get("finish_reason")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise SummarizeError("llm: malformed chat-completions response") from exc
    if message.get("refusal"):
        raise SummarizeError("llm: the model refused")
    if not isinstance(content, str):
        raise SummarizeError("llm: the answer has no text content")
    return clean_completion(content, finish_reason if isinstance(finish_reason, str) else None)


class LLMSummarizer:
    """Summaries from a chat-completions endpoint, with caching and extractive fallback.

    Async only: call ``summarize_async`` (or ``summarize_many`` for a batch) on the event
    loop. ``fallback`` is any ``bot.core.ports.Summarizer``; it runs in the default
    executor. Pass ``session`` to share an ``aiohttp.ClientSession``; otherwise one is
    created on first use and closed by ``aclose()``.
    """

    def __init__(
        self,
        options: LLMOptions,
        fallback: Summarizer,
        *,
        cache: SummaryCache | None = None,
        session: aiohttp.ClientSession | None = None,
        lru_size: int = 1024,
        max_concurrency: int = 2,
        failure_cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._fallback = fallback
        self._cache = cache
        self._lru = MemorySummaryCache(lru_size)
        self._session = session
        self._owns_session = session is None
        self._limit = asyncio.Semaphore(max(1, max_concurrency))
        self._cooldown_s = failure_cooldown_s
        self._clock = clock
        self._skip_until = -math.inf
        self._api_key = os.environ.get(options.api_key_env, "").strip()

    def __repr__(self) -> str:
        host = urlsplit(self.options.base_url).hostname or "?"
        return f"LLMSummarizer(model={self.options.model!r}, host={host!r})"

    async def __aenter__(self) -> LLMSummarizer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session if this summariser created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def summarize_async(self, title: str, text: str) -> str:
        """1–3 sentences from the LLM, else from the fallback; raises only what it raises."""
        key = cache_key(self.options, title, text)
        cached = self._lookup(key)
        if cached is not None:
            return cached
        if not text.strip() or self._clock() < self._skip_until:
            return await self._run_fallback(title, text)
        try:
            summary = await self._generate(title, text)
        except Exception as exc:  # any failure at all means the extractive summary
            self._skip_until = self._clock() + self._cooldown_s
            reason = str(exc) if isinstance(exc, SummarizeError) else f"llm: {exc!r}"
            log.warning(
                "%s (model %s); using the extractive summary for %g s",
                self._redact(reason),
                self.options.model,
                self._cooldown_s,
            )
            return await self._run_fallback(title, text)
        self._store(key, summary)
        return summary

    async def summarize_many(self, items: Iterable[tuple[str, str]]) -> list[str]:
        """Summaries for (title, text) pairs, in order; ``max_concurrency`` bounds requests."""
        return list(await asyncio.gather(*(self.summarize_async(t, x) for t, x in items)))

    async def complete(self, title: str, text: str) -> str:
        """The LLM's summary with no fallback and no cache; raises ``SummarizeError``."""
        return await self._generate(title, text)  # its errors are already redacted

    async def _generate(self, title: str, text: str) -> str:
        body = {
            "model": self.options.model,
            "messages": build_messages(title, text, self.options.max_input_tokens),
            "max_tokens": self.options.max_output_tokens,
            "temperature": self.options.temperature,
            "stream": False,
        }
        async with self._limit:
            raw = await self._post(body)
        return parse_completion(raw)

    async def _post(self, body: dict[str, Any]) -> bytes:
        """One request; every failure becomes a ``SummarizeError`` with a safe message."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = self.options.timeout_s
        try:
            async with asyncio.timeout(timeout):  # connect, send and read, all together
                async with self._session.post(
                    self.options.endpoint,
                    json=body,
                    headers=headers,
                    allow_redirects=False,
                ) as resp:
                    raw = bytearray()
                    async for chunk in resp.content.iter_chunked(65536):
                        raw += chunk
                        if len(raw) > MAX_RESPONSE_BYTES:
                            raise SummarizeError("llm: response larger than 1 MiB")
                    status = resp.status
        except TimeoutError:
            raise SummarizeError(f"llm: timed out after {timeout:g} s") from None
        except aiohttp.ClientError as exc:
            reason = self._redact(str(exc))[:200] or type(exc).__name__
            raise SummarizeError(f"llm: request failed: {reason}") from None
        if status != 200:
            # Redact before cutting, so a key cut in half cannot slip past the redaction.
            snippet = " ".join(self._redact(raw.decode("utf-8", "replace")).split())[:300]
            raise SummarizeError(f"llm: HTTP {status}: {snippet}")
        return bytes(raw)

    async def _run_fallback(self, title: str, text: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._fallback.summarize, title, text)

    def _lookup(self, key: str) -> str | None:
        value = self._lru.get(key)
        if value is None and self._cache is not None:
            try:
                value = self._cache.get(key)
            except Exception as exc:  # a broken cache must not break summaries
                log.warning("llm: summary cache get failed: %s", type(exc).__name__)
                value = None
            if value is not None:
                self._lru.put(key, value)
        return value

    def _store(self, key: str, value: str) -> None:
        self._lru.put(key, value)
        if self._cache is not None:
            try:
                self._cache.put(key, value)
            except Exception as exc:
                log.warning("llm: summary cache put failed: %s", type(exc).__name__)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text
