"""The seed folder: article files on disk, the embedded default source.

Formats: ``.txt``/``.md`` (first line the headline, an optional standfirst line followed
by a blank line, then the body), ``.html`` (main text extracted), ``.json``
(``{title, text, url?, published?, source?}``). A file's key is its path relative to the
folder, so an edited file updates its article instead of adding one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.core.models import ArticleDraft

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".html", ".htm", ".json"}
MAX_SEED_BYTES = 2 * 1024 * 1024
SOURCE_NAME = "seeds"


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What happened to one file: ``draft`` when read, else the reason it was skipped."""

    path: Path
    draft: ArticleDraft | None
    reason: str = ""


def _decode(raw: bytes, path: Path) -> str | None:
    if b"\x00" in raw[:8192]:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("seeds: %s is not UTF-8; reading it as Windows-1252", path.name)
        return raw.decode("cp1252", errors="replace")


def _parse_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text_article(text: str) -> tuple[str, str | None, str] | None:
    """Split a plain-text seed into (headline, standfirst, body)."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return None
    headline = lines[0].lstrip("# ").strip()
    rest = lines[1:]
    standfirst = None
    if len(rest) >= 2 and rest[0] and not rest[1]:
        standfirst, rest = rest[0], rest[2:]
    body = "\n".join(line for line in rest if line)
    if not body:
        return None
    return headline, standfirst, body


def read_seed(path: Path, root: Path) -> SeedResult:
    """Read one seed file; never raises for bad content, only reports why it was skipped."""
    try:
        size = path.stat().st_size
        if size == 0:
            return SeedResult(path, None, "empty file")
        if size > MAX_SEED_BYTES:
            return SeedResult(path, None, f"too large ({size} bytes > {MAX_SEED_BYTES})")
        raw = path.read_bytes()
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError as exc:
        return SeedResult(path, None, f"unreadable: {exc.strerror or exc}")
    text = _decode(raw, path)
    if text is None:
        return SeedResult(path, None, "binary file")
    key = path.relative_to(root).as_posix()
    suffix = path.suffix.lower()
    url: str | None = None
    source = SOURCE_NAME
    published = mtime
    standfirst: str | None = None
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return SeedResult(path, None, f"invalid JSON: {exc.msg} at line {exc.lineno}")
        if not isinstance(data, dict):
            return SeedResult(path, None, "JSON seed must be an object")
        title, body = data.get("title"), data.get("text")
        if not isinstance(title, str) or not title.strip():
            return SeedResult(path, None, "JSON seed has no title")
        if not isinstance(body, str) or not body.strip():
            return SeedResult(path, None, "JSON seed has no text")
        url = data["url"] if isinstance(data.get("url"), str) else None
        source = data["source"] if isinstance(data.get("source"), str) else SOURCE_NAME
        published = _parse_date(data.get("published")) or mtime
        headline = title.strip()
    elif suffix in {".html", ".htm"}:
        from bot.sources.html import html_article

        extracted = html_article(text)
        if extracted is None:
            return SeedResult(path, None, "no article text found in HTML")
        headline, body = extracted
        headline = headline or path.stem.replace("_", " ")
    else:
        split = _text_article(text)
        if split is None:
            return SeedResult(path, None, "no body after the headline")
        headline, standfirst, body = split
    draft = ArticleDraft(
        source=source,
        key=key,
        title=headline[:500],
        text=body.strip(),
        published_at=min(published, datetime.now(UTC)),
        url=url,
        standfirst=standfirst,
    )
    return SeedResult(path, draft)


def read_folder(root: Path) -> list[SeedResult]:
    """Every seed file under ``root`` (recursively, sorted); hidden files are ignored."""
    if not root.is_dir():
        log.warning("seeds: folder %s does not exist", root)
        return []
    results = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix.lower() not in SUFFIXES:
            results.append(SeedResult(path, None, f"unsupported file type {path.suffix!r}"))
            continue
        results.append(read_seed(path, root))
    for result in results:
        if result.draft is None:
            log.warning("seeds: skipped %s: %s", result.path.name, result.reason)
    return results
