"""Every clean real feed in ../shared/data/feeds, stored: nothing is lost between
feedparser and the database. For each file feedparser reads without bozo, the keys
stored for that feed equal feedparser's entries minus the items sharing a dedupe key;
articles that two feeds share are stored once. Run with ``-s`` for the totals."""

from __future__ import annotations

import json

from bot.errors import ParseError
from bot.service.core import Core
from bot.sources.parse import parse_feed
from tests.support import shared_data


async def test_clean_corpus_is_stored_without_loss(core: Core) -> None:
    folder = shared_data("feeds")
    rows = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines() if line]
    bodies = {row["file"]: (folder / row["file"]).read_bytes() for row in rows}
    files = expected_total = stored_keys = new_articles = 0
    for n, row in enumerate(rows):
        if row.get("bozo") or row.get("checked_with_feedparser") is None:
            continue
        body = bodies[row["file"]]
        try:
            parsed = parse_feed(body, url=row.get("feed_url") or f"https://corpus.test/{n}")
        except ParseError:
            continue
        assert parsed.raw_entries == row["n_entries"], row["file"]
        origin = f"feed:{n}"
        stats = await core.pipeline.ingest(origin, parsed.entries)
        keys = await core.db.articles.keys(origin)
        assert len(keys) == len(parsed.entries), row["file"]
        assert all(article_id is not None for article_id in keys.values()), row["file"]
        files += 1
        expected_total += len(parsed.entries)
        stored_keys += len(keys)
        new_articles += stats.new
    print(
        f"\ncorpus stored: {files} clean files, {expected_total} items expected, "
        f"{stored_keys} keys stored, {new_articles} distinct articles "
        f"({stored_keys - new_articles} shared between feeds or same content)"
    )
    assert files > 100
    assert stored_keys == expected_total
