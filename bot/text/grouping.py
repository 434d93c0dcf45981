"""PROVISIONAL (lead's stand-in until the text-quality helper writes the real grouper)."""

from __future__ import annotations

import re
from datetime import datetime


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower())}


class StoryGrouper:
    def __init__(self, threshold: float = 0.3, window_hours: float = 48.0) -> None:
        self.threshold = threshold
        self._stories: dict[int, set[str]] = {}
        self._next = 1

    def load(self, story_key: int, title: str, text: str, last_updated: datetime) -> None:
        self._stories[story_key] = _words(f"{title} {text}")
        self._next = max(self._next, story_key + 1)

    def add(self, doc_id: int, title: str, text: str, published_at: datetime, source: str) -> int:
        words = _words(f"{title} {text}")
        best, score = None, 0.0
        for key, other in self._stories.items():
            sim = len(words & other) / max(1, len(words | other))
            if sim > score:
                best, score = key, sim
        if best is not None and score >= self.threshold:
            self._stories[best] |= words
            return best
        key = self._next
        self._next += 1
        self._stories[key] = words
        return key
