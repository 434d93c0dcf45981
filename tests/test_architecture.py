"""The package map of the README, checked by walking imports with ``ast``.

Data flows one way: sources → ingest → text → store → core → delivery → chat, with cli,
service and web on top. ``core`` is the standard library plus itself; only ``chat`` and
``cli`` touch a chat SDK; nothing below ``service`` reaches back up into it or ``cli``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bot"
CHAT_SDKS = {"discord", "slack_bolt", "slack_sdk"}
TOP = {"cli", "service", "web"}
LOOSE_MODULES_ALLOWED = {"__init__.py", "__main__.py", "config.py", "errors.py", "metrics.py"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from bot import cli`` names the package in the alias, not the module
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def package_of(path: Path) -> str:
    """``bot/store/db.py`` → ``store``; a module directly in ``bot/`` → its stem."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def bot_packages(names: set[str]) -> set[str]:
    return {n.split(".")[1] for n in names if n.startswith("bot.") and n.count(".") >= 1}


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)
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
    assert imports_of(probe) >= {"os", "discord", "bot.store.db"}
    assert bot_packages(imports_of(probe)) == {"store"}


def test_only_chat_and_cli_import_chat_sdks() -> None:
    offenders = []
    for path in MODULES:
        if package_of(path) in {"chat", "cli"}:
            continue
        sdk = {n.split(".")[0] for n in imports_of(path)} & CHAT_SDKS
        if sdk:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(sdk)}")
    assert not offenders, offenders


@pytest.mark.parametrize("layer", ["sources", "text", "store"])
def test_lower_layers_know_no_adapter_and_nothing_on_top(layer: str) -> None:
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        reached = bot_packages(imports_of(path)) & ({"chat"} | TOP)
        if reached:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(reached)}")
    assert not offenders, offenders


def test_nothing_below_service_imports_service_or_cli() -> None:
    offenders = []
    for path in MODULES:
        if package_of(path) in {"service", "cli", "__main__"}:
            continue
        reached = bot_packages(imports_of(path)) & {"service", "cli"}
        if reached:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(reached)}")
    assert not offenders, offenders


def test_no_loose_modules_in_bot() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")} - LOOSE_MODULES_ALLOWED
    assert not loose, f"modules belong in the package of their role, not in bot/: {loose}"


def test_every_package_says_what_it_is_for() -> None:
    missing = []
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        if not doc:
            missing.append(init.parent.name)
    assert not missing, f"packages without a one-line docstring: {missing}"
