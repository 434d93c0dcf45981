"""The feed machinery stays a leaf: no chat SDK, no database, no scheduler inside."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[2] / "bot" / "sources"
MODULES = ["fetch", "ssrf", "parse", "normalize", "extract", "opml", "poll"]
FORBIDDEN = (
    "slack_bolt",
    "slack_sdk",
    "discord",
    "apscheduler",
    "sqlalchemy",
    "bot.store",
    "bot.chat",
)


@pytest.mark.parametrize("name", MODULES)
def test_no_forbidden_imports(name: str) -> None:
    tree = ast.parse((SOURCES / f"{name}.py").read_text())
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    bad = [m for m in imported if m.startswith(FORBIDDEN)]
    assert not bad, f"bot/sources/{name}.py imports {bad}"
