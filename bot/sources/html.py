"""Main-text extraction from an HTML page (trafilatura), shared by seeds and full text."""

from __future__ import annotations

import logging

import trafilatura

log = logging.getLogger(__name__)


def html_article(html: str, url: str | None = None) -> tuple[str, str] | None:
    """Return (title, main text) or None when the page holds no article text.

    Blocking and CPU-bound: async callers run it in an executor.
    """
    try:
        text = trafilatura.extract(
            html, url=url, include_comments=False, include_tables=False, favor_precision=True
        )
        meta = trafilatura.extract_metadata(html, default_url=url)
    except Exception as exc:  # trafilatura raises many lxml types on broken markup
        log.warning("extract: %s: %s", url or "html", exc.__class__.__name__)
        return None
    if not text or not text.strip():
        return None
    title = ((meta.title if meta is not None and meta.title else "") or "").strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    # The page's own headline often opens the extracted text: it is not body text.
    while lines and title and lines[0].rstrip(".").lower() == title.rstrip(".").lower():
        lines.pop(0)
    body = "\n".join(lines)
    return (title, body) if body else None
