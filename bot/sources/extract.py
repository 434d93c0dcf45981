"""Full text for teaser items: fetch the article page and extract its main text.

Many feeds carry only a sentence or two; summaries and story grouping need the body.
Pages go through the same ``Fetcher`` (SSRF guard, size cap, per-host limits) and
trafilatura runs in an executor, off the event loop. Any failure keeps the teaser: full
text is an improvement, never a reason to lose an item. Results are cached by URL, the
failures too, so a broken page is not fetched on every poll.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, MutableMapping
from concurrent.futures import Executor

from bot.core.models import ArticleDraft
from bot.errors import FetchError
from bot.sources.fetch import HTML_ACCEPT, Fetcher
from bot.sources.html import html_article
from bot.sources.normalize import collapse_ws

log = logging.getLogger(__name__)

_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class _LRU(OrderedDict[str, str | None]):
    """A small bounded cache: the oldest entry goes first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: str, value: str | None) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode a page with the charset its header names, else UTF-8, else Windows-1252."""
    match = _CHARSET.search(content_type or "")
    if match:
        try:
            return body.decode(match.group(1), errors="replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


class FullTextExtractor:
    """Replaces a teaser's text with the page's main text when it is longer.

    ``threshold`` is the teaser length in characters below which a page is fetched
    (``[sources] teaser_chars``). ``cache`` maps a URL to extracted text or None for a
    failed page; pass a persistent mapping to keep it across restarts.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        threshold: int = 600,
        executor: Executor | None = None,
        cache: MutableMapping[str, str | None] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.threshold = threshold
        self.executor = executor
        self.cache: MutableMapping[str, str | None] = cache if cache is not None else _LRU(2048)
        self._pending: dict[str, asyncio.Future[str | None]] = {}

    def wants(self, draft: ArticleDraft) -> bool:
        """True when the draft is a teaser with a page to read."""
        return bool(draft.url) and len(draft.text) < self.threshold

    async def enrich(self, draft: ArticleDraft) -> ArticleDraft:
        """The draft with full text, or the draft unchanged when extraction fails."""
        if not self.wants(draft) or draft.url is None:
            return draft
        url = draft.url
        if url in self.cache:
            text = self.cache[url]
        elif url in self._pending:  # another item links the same page: wait for it
            text = await asyncio.shield(self._pending[url])
        else:
            task = asyncio.ensure_future(self._extract(url))
            self._pending[url] = task
            try:
                text = await asyncio.shield(task)
            finally:
                self._pending.pop(url, None)
            self.cache[url] = text
        if not text or len(text) <= len(draft.text):
            return draft
        return dataclasses.replace(draft, text=text, standfirst=draft.standfirst or draft.text)

    async def enrich_all(
        self, drafts: Iterable[ArticleDraft], *, concurrency: int = 4
    ) -> list[ArticleDraft]:
        """Enrich many drafts, ``concurrency`` pages at a time, keeping their order.

        Only teasers get a task: a first poll cycle brings tens of thousands of drafts,
        most of them full articles already."""
        slots = asyncio.Semaphore(concurrency)
        out = list(drafts)
        teasers = [i for i, draft in enumerate(out) if self.wants(draft)]

        async def one(draft: ArticleDraft) -> ArticleDraft:
            async with slots:
                return await self.enrich(draft)

        enriched = await asyncio.gather(*(one(out[i]) for i in teasers))
        for i, draft in zip(teasers, enriched, strict=True):
            out[i] = draft
        return out

    async def _extract(self, url: str) -> str | None:
        try:
            page = await self.fetcher.fetch(url, accept=HTML_ACCEPT)
        except FetchError as exc:
            log.info("extract: url=%s kept the teaser: %s", url, exc)
            return None
        ctype = (page.content_type or "text/html").split(";", 1)[0].strip().lower()
        if ctype not in _HTML_TYPES:
            log.info("extract: url=%s kept the teaser: content type %s", url, ctype)
            return None
        html = decode_html(page.body, page.content_type)
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(self.executor, html_article, html, page.final_url)
        except Exception as exc:  # a broken page must never cost the item
            log.warning("extract: url=%s kept the teaser: %s", url, type(exc).__name__)
            return None
        if found is None:
            log.info("extract: url=%s kept the teaser: no main text found", url)
            return None
        return collapse_ws(found[1])
