"""Config: every bad file exits 2 with the key named; secrets never come from the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from tests.support import bot_env

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "briefbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = REPO / "config.example.toml"
    settings = load_settings(example)
    assert settings.briefing.max_stories >= 1
    text = example.read_text(encoding="utf-8")
    from dataclasses import fields

    for section in fields(settings):
        if section.name == "base_dir":
            continue
        assert f"[{section.name}]" in text, section.name
        for key in fields(getattr(settings, section.name)):
            assert f"{key.name} =" in text, f"[{section.name}] {key.name} undocumented"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[briefing]\nmax_stories = 0\n", "[briefing] max_stories must be 1..25, got 0"),
        ("[briefing]\nmax_storys = 3\n", "[briefing] unknown key 'max_storys'"),
        ("[briefing]\nmax_stories = 'ten'\n", "[briefing] max_stories must be an integer"),
        ("[bot]\ntimezone = 'Mars/Olympus'\n", "[bot] timezone 'Mars/Olympus' is not a known"),
        ("[nonsense]\nx = 1\n", "unknown section [nonsense]"),
        ("[slack]\nmode = 'carrier-pigeon'\n", '[slack] mode must be "socket" or "http"'),
        ("[sources]\nfeeds = 'http://x'\n", "[sources] feeds must be a list"),
        ("[bot\n", "is not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, toml))
    assert message in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_env_overrides_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFBOT_DATABASE_URL", "postgresql://u:pw@db/x")
    settings = load_settings(write(tmp_path, "[bot]\ntimezone = 'Europe/Kyiv'\n"))
    assert settings.database_url == "postgresql://u:pw@db/x"
    assert settings.bot.timezone == "Europe/Kyiv"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[briefing]\nmax_stories = 0\n", "max_stories"),
        ("[bot]\ntimezone = 'Nowhere/Land'\n", "timezone"),
        ("[bot]\nwho = 1\n", "who"),
        ("[briefing]\nwindow_hours = 'long'\n", "window_hours"),
    ],
)
def test_cli_exits_2_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = write(tmp_path, toml)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(path), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=bot_env(),
    )
    assert done.returncode == 2, done.stderr
    assert key in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_missing_config_file_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(tmp_path / "missing.toml"), "brief"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=bot_env(),
    )
    assert done.returncode == 2
    assert "not found" in done.stderr
