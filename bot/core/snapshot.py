"""A briefing frozen as JSON when its delivery is first attempted.

A resumed delivery re-sends exactly what the first attempt rendered: recomputing it
after a crash would pick up newer articles and stories delivered meanwhile, so the
parts already in the channel and the parts still to send would come from two
different briefings.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.core.models import Briefing, BriefingItem, Mention, SourceLink


def _item(item: BriefingItem) -> dict[str, Any]:
    return {
        "headline": item.headline,
        "summary": item.summary,
        "url": item.url,
        "published_at": item.published_at.isoformat(),
        "sources": [[s.name, s.url] for s in item.sources],
        "story_id": item.story_id,
        "score": item.score,
        "article_count": item.article_count,  # the "Sources (N)" button's N
    }


def _mention(mention: Mention | None) -> dict[str, str] | None:
    if mention is None:
        return None
    return {"kind": mention.kind, "id": mention.id, "label": mention.label}


def dumps(briefing: Briefing) -> str:
    return json.dumps(
        {
            "generated_at": briefing.generated_at.isoformat(),
            "window_start": briefing.window_start.isoformat(),
            "window_end": briefing.window_end.isoformat(),
            "timezone": briefing.timezone,
            "items": [_item(i) for i in briefing.items],
            "topic": briefing.topic,
            "article_count": briefing.article_count,
            "story_count": briefing.story_count,
            "late_since": briefing.late_since.isoformat() if briefing.late_since else None,
            "mention": _mention(briefing.mention),
            "threaded": briefing.threaded,
        },
        ensure_ascii=False,
    )


def loads(text: str) -> Briefing:
    data = json.loads(text)
    late = data.get("late_since")
    return Briefing(
        generated_at=datetime.fromisoformat(data["generated_at"]),
        window_start=datetime.fromisoformat(data["window_start"]),
        window_end=datetime.fromisoformat(data["window_end"]),
        timezone=data["timezone"],
        items=tuple(
            BriefingItem(
                headline=i["headline"],
                summary=i["summary"],
                url=i["url"],
                published_at=datetime.fromisoformat(i["published_at"]),
                sources=tuple(SourceLink(name, url) for name, url in i["sources"]),
                story_id=i["story_id"],
                score=i["score"],
                article_count=i.get("article_count", 0),
            )
            for i in data["items"]
        ),
        topic=data["topic"],
        article_count=data["article_count"],
        story_count=data["story_count"],
        late_since=datetime.fromisoformat(late) if late else None,
        mention=Mention(**data["mention"]) if data.get("mention") else None,
        threaded=bool(data.get("threaded")),
    )
