"""The seed folder: formats, identity by path, and bad files skipped with a reason."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from bot.service.core import Core
from bot.sources.seeds import read_folder

REPO = Path(__file__).resolve().parents[1]
SEED = next((REPO / "seeds").glob("*.txt"))


def test_shipped_seed_reads_headline_standfirst_and_body() -> None:
    (result,) = [r for r in read_folder(REPO / "seeds") if r.path == SEED]
    assert result.draft is not None
    lines = SEED.read_text(encoding="utf-8").splitlines()
    assert result.draft.title == lines[0].strip()
    assert result.draft.standfirst == lines[1].strip()
    assert result.draft.text.startswith(lines[3].strip())
    assert result.draft.key == SEED.name


def test_formats(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Headline A\n\nBody of A. It has two sentences.\n")
    (tmp_path / "b.json").write_text(
        json.dumps(
            {
                "title": "Headline B",
                "text": "Body of B.",
                "url": "https://example.org/b",
                "published": "2026-11-20T08:00:00+02:00",
                "source": "Example",
            }
        )
    )
    (tmp_path / "c.html").write_text(
        "<html><head><title>Headline C</title><script>alert(1)</script></head><body>"
        "<article><h1>Headline C</h1>"
        + "".join(f"<p>Paragraph {i} of the article about the harbour.</p>" for i in range(8))
        + "</article></body></html>"
    )
    drafts = {r.path.name: r.draft for r in read_folder(tmp_path)}
    a, b, c = drafts["a.md"], drafts["b.json"], drafts["c.html"]
    assert a is not None and a.title == "Headline A" and a.standfirst is None
    assert b is not None and b.source == "Example" and b.url == "https://example.org/b"
    assert b.published_at.isoformat() == "2026-11-20T06:00:00+00:00"
    assert c is not None and c.title == "Headline C" and "harbour" in c.text
    assert "alert" not in c.text


def test_bad_files_are_skipped_with_reasons(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (tmp_path / "headline-only.txt").write_text("Just a headline\n")
    (tmp_path / "latin1.txt").write_bytes(
        "Caf\xe9 reopens\n\nThe caf\xe9 on the square reopened on Monday.\n".encode("latin-1")
    )
    (tmp_path / "huge.txt").write_bytes(b"Huge\n\n" + b"word " * (1024 * 1024))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    with caplog.at_level(logging.WARNING):
        results = {r.path.name: r for r in read_folder(tmp_path)}
    assert results["empty.txt"].reason == "empty file"
    assert results["binary.txt"].reason == "binary file"
    assert results["headline-only.txt"].reason == "no body after the headline"
    assert results["huge.txt"].reason.startswith("too large")
    assert results["broken.json"].reason.startswith("invalid JSON")
    assert results["notes.pdf"].reason == "unsupported file type '.pdf'"
    latin = results["latin1.txt"].draft
    assert latin is not None and latin.title == "Café reopens"
    assert "not UTF-8" in caplog.text
    for name in ("empty.txt", "binary.txt", "huge.txt"):
        assert name in caplog.text


async def test_edited_seed_updates_its_article(tmp_path: Path, core: Core) -> None:
    from dataclasses import replace

    folder = tmp_path / "seeds"
    folder.mkdir()
    path = folder / "story.txt"
    path.write_text("Bridge opens\n\nThe new bridge opened today. Traffic flowed at once.\n")
    core.settings = replace(
        core.settings, sources=replace(core.settings.sources, seeds_dir=str(folder))
    )
    first = await core.ingest_seeds()
    assert (first.stats.new, first.stats.updated) == (1, 0)
    again = await core.ingest_seeds()
    assert (again.stats.new, again.stats.updated, again.stats.unchanged) == (0, 0, 1)
    path.write_text("Bridge opens late\n\nThe new bridge opened two hours late today.\n")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    edited = await core.ingest_seeds()
    assert (edited.stats.new, edited.stats.updated) == (0, 1)
    briefing = await core.briefings.compose()
    assert [i.headline for i in briefing.items] == ["Bridge opens late"]
