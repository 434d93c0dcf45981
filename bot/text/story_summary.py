"""PROVISIONAL (lead's stand-in until the text-quality helper writes the real one)."""

from __future__ import annotations

from collections.abc import Sequence


def summarize_story(
    articles: Sequence[tuple[str, str, str]], max_sentences: int = 3, max_chars: int = 600
) -> tuple[str, str]:
    source, title, summary = articles[0]
    return title, summary[:max_chars]
