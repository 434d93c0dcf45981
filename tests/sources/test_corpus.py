"""Every real feed capture in ../shared/data/feeds: no crash, and no item lost.

For each file feedparser reads without bozo, our drafts must number feedparser's entries
minus the items that share a dedupe key with an earlier one. Run with ``-s`` for totals.
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest

from bot.errors import ParseError
from bot.sources.parse import parse_feed

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "feeds"


def test_corpus_parses_without_loss() -> None:
    index = DATA / "index.jsonl"
    if not index.is_file():
        pytest.skip(f"no feed corpus at {DATA} (it sits beside the repository)")
    rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
    files = entries = drafts = bozo_files = not_feeds = dupes = 0
    mismatches: list[str] = []
    for row in rows:
        body = (DATA / row["file"]).read_bytes()
        url = row.get("feed_url") or f"https://corpus.test/{row['file']}"
        files += 1
        try:
            parsed = parse_feed(body, url=url)
            count, raw = len(parsed.entries), parsed.raw_entries
        except ParseError:
            not_feeds += 1
            count = raw = 0
        if row.get("checked_with_feedparser") == feedparser.__version__:
            bozo, expected = bool(row["bozo"]), int(row["n_entries"])  # recorded by this version
        else:
            bare = feedparser.parse(body)
            bozo, expected = bool(bare.bozo), len(bare.entries)
        entries += count
        dupes += raw - count
        if bozo:
            bozo_files += 1
            continue
        drafts += count
        if raw != expected:
            mismatches.append(f"{row['file']}: {raw} items seen, feedparser {expected}")
    print(
        f"\ncorpus: {files} files, {entries} drafts ({dupes} duplicate keys dropped), "
        f"{bozo_files} bozo files, {not_feeds} not feeds; "
        f"{files - bozo_files} clean files gave {drafts} drafts"
    )
    assert files > 0
    assert not mismatches, mismatches
