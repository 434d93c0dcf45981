"""Briefing → Markdown or plain text, for the console, the CLI and webhooks without blocks."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from bot.core.models import Briefing, BriefingItem

MAX_SOURCES_SHOWN = 5


def _sources_md(item: BriefingItem) -> str:
    shown = [f"[{s.name}]({s.url})" if s.url else s.name for s in item.sources[:MAX_SOURCES_SHOWN]]
    more = len(item.sources) - MAX_SOURCES_SHOWN
    return ", ".join(shown) + (f" +{more} more" if more > 0 else "")


def render_markdown(briefing: Briefing) -> str:
    lines = [f"# {briefing.title}", "", f"_{briefing.counts_line}_", ""]
    for n, item in enumerate(briefing.items, 1):
        headline = f"[{item.headline}]({item.url})" if item.url else item.headline
        lines.append(f"{n}. **{headline}**")
        lines.append(f"   {item.summary}")
        lines.append(f"   Sources: {_sources_md(item)} · {item.published_at:%d %b %H:%M} UTC")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_text(briefing: Briefing, width: int = 88) -> str:
    """Plain text for a terminal: wrapped summaries, URLs on their own line."""
    lines = [briefing.title, "=" * min(width, len(briefing.title)), briefing.counts_line, ""]
    for n, item in enumerate(briefing.items, 1):
        lines.append(textwrap.fill(f"{n}. {item.headline}", width, subsequent_indent="   "))
        lines.append(
            textwrap.fill(item.summary, width, initial_indent="   ", subsequent_indent="   ")
        )
        names = ", ".join(s.name for s in item.sources[:MAX_SOURCES_SHOWN])
        more = len(item.sources) - MAX_SOURCES_SHOWN
        names += f" +{more} more" if more > 0 else ""
        lines.append(f"   — {names}, {item.published_at:%d %b %H:%M} UTC")
        if item.url:
            lines.append(f"   {item.url}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def briefing_dict(briefing: Briefing) -> dict[str, Any]:
    """A JSON-ready view, including each story's score and the parts that explain it."""
    return {
        "title": briefing.title,
        "generated_at": briefing.generated_at.isoformat(),
        "window_start": briefing.window_start.isoformat(),
        "window_end": briefing.window_end.isoformat(),
        "timezone": briefing.timezone,
        "topic": briefing.topic,
        "article_count": briefing.article_count,
        "story_count": briefing.story_count,
        "items": [
            {
                "headline": item.headline,
                "summary": item.summary,
                "url": item.url,
                "published_at": item.published_at.isoformat(),
                "sources": [{"name": s.name, "url": s.url} for s in item.sources],
                "story_id": item.story_id,
                "score": item.score,
                "score_parts": item.score_parts,
            }
            for item in briefing.items
        ],
    }


def render_json(briefing: Briefing) -> str:
    return json.dumps(briefing_dict(briefing), ensure_ascii=False, indent=2) + "\n"
