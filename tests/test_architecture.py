"""The dependency direction of STYLE.md, checked by walking imports with ``ast``.

``bot/core`` imports only the standard library, ``bot.core`` and ``bot.errors``; no
module outside ``bot/chat`` (and the composition root) imports a chat SDK.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bot"
CHAT_SDKS = {"discord", "slack_bolt", "slack_sdk"}
COMPOSITION = {"app.py", "runtime.py", "cli.py", "feeds_cli.py", "__main__.py"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


CORE_FILES = sorted((PACKAGE / "core").glob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_imports_only_stdlib_and_itself(path: Path) -> None:
    bad = []
    for name in imports_of(path):
        top = name.split(".")[0]
        if name.startswith(("bot.core", "bot.errors")) or name == "__future__":
            continue
        if top in sys.stdlib_module_names and top != "bot":
            continue
        bad.append(name)
    assert not bad, f"{path.name} imports {bad}: the core must stay SDK- and I/O-free"


def test_the_walker_catches_a_forbidden_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom discord import Client\nfrom bot.store.db import x\n")
    assert imports_of(probe) == {"os", "discord", "bot.store.db"}


def test_only_chat_adapters_import_chat_sdks() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "chat" or rel.name in COMPOSITION:
            continue
        if rel.parts[0] == "delivery" and rel.name.startswith("render_"):
            continue  # renderers may use an SDK's own escaping helpers
        sdk = {n.split(".")[0] for n in imports_of(path)} & CHAT_SDKS
        if sdk:
            offenders.append(f"{rel}: {sorted(sdk)}")
    assert not offenders, offenders
