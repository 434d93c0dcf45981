"""A channel's muted words and outlets: what they drop from a briefing.

Matching is whole-word and case-insensitive, done on token sets (no user pattern ever
becomes a regex), and the lists are bounded in count and length, so a mute list cannot
make a briefing slow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from bot.core.models import ChannelSettings, Story
from bot.errors import CommandError

_WORD = re.compile(r"\w+", re.UNICODE)

MAX_WORDS = 50
MAX_WORD_LENGTH = 40
MAX_SOURCES = 50
MAX_SOURCE_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Mutes:
    """Lower-cased muted words (each a single word) and outlet names."""

    words: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.words or self.sources)


def of(settings: ChannelSettings) -> Mutes:
    """The mutes stored in a channel's settings."""
    return Mutes(settings.muted_words, settings.muted_sources)


def mute_words(text: str) -> list[str]:
    """The words of ``/briefing mute <words>``: lower-cased ``\\w+`` tokens, bounded."""
    if len(text) > MAX_WORDS * (MAX_WORD_LENGTH + 2):
        raise CommandError(f"That is too long: mute at most {MAX_WORDS} words at a time.")
    found = list(dict.fromkeys(_WORD.findall(text.lower())))
    for word in found:
        if len(word) > MAX_WORD_LENGTH:
            raise CommandError(f"A muted word can be at most {MAX_WORD_LENGTH} characters.")
    return found


def source_name(text: str) -> str:
    """An outlet name as typed after ``mute source``, normalised for comparison."""
    name = " ".join(text.split()).lower()
    if len(name) > MAX_SOURCE_LENGTH:
        raise CommandError(f"An outlet name can be at most {MAX_SOURCE_LENGTH} characters.")
    return name


def add(mutes: Mutes, *, words: Iterable[str] = (), sources: Iterable[str] = ()) -> Mutes:
    updated = replace(
        mutes,
        words=tuple(dict.fromkeys([*mutes.words, *words])),
        sources=tuple(dict.fromkeys([*mutes.sources, *sources])),
    )
    if len(updated.words) > MAX_WORDS:
        raise CommandError(f"A channel can mute at most {MAX_WORDS} words.")
    if len(updated.sources) > MAX_SOURCES:
        raise CommandError(f"A channel can mute at most {MAX_SOURCES} outlets.")
    return updated


def remove(mutes: Mutes, *, words: Iterable[str] = (), sources: Iterable[str] = ()) -> Mutes:
    gone_words, gone_sources = set(words), set(sources)
    return Mutes(
        words=tuple(w for w in mutes.words if w not in gone_words),
        sources=tuple(s for s in mutes.sources if s not in gone_sources),
    )


def apply(stories: Sequence[Story], mutes: Mutes) -> list[Story]:
    """Stories without muted outlets' articles; a story left empty, or whose remaining
    articles mention a muted word (title or summary, whole word), drops."""
    if not mutes:
        return list(stories)
    muted_sources = set(mutes.sources)
    muted_words = set(mutes.words)
    kept: list[Story] = []
    for story in stories:
        articles = tuple(a for a in story.articles if a.source.lower() not in muted_sources)
        if not articles:
            continue
        if muted_words:
            text = story.title + " " + " ".join(f"{a.title} {a.summary}" for a in articles)
            if muted_words & set(_WORD.findall(text.lower())):
                continue
        whole = len(articles) == len(story.articles)
        kept.append(story if whole else replace(story, articles=articles))
    return kept


__all__ = [
    "MAX_SOURCES",
    "MAX_WORDS",
    "Mutes",
    "add",
    "apply",
    "mute_words",
    "of",
    "remove",
    "source_name",
]
