"""The `briefbot` command as a user runs it on a fresh checkout."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__
from bot.text.sentences import split_sentences
from tests.support import bot_env

REPO = Path(__file__).resolve().parents[1]
SEED = next((REPO / "seeds").glob("*.txt"))
SEED_LINES = SEED.read_text(encoding="utf-8").splitlines()


def briefbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = bot_env()
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def test_readme_run_command_prints_the_seed_briefing(tmp_path: Path) -> None:
    """`briefbot brief` in the repo prints the seed's headline and a body summary."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "seeds").mkdir()
    (work / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
    done = briefbot("brief", cwd=work)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    item = "\n".join(lines[lines.index("") + 1 :])
    headline = SEED_LINES[0].strip()
    assert re.sub(r"\s+", " ", item).startswith(f"1. {headline}")
    as_json = json.loads(briefbot("brief", "--format", "json", cwd=work).stdout)
    summary = as_json["items"][0]["summary"]
    assert re.sub(r"\s+", " ", item).split(" — ")[0].endswith(summary)
    body_sentences = split_sentences("\n".join(SEED_LINES[3:]))
    picked = [s for s in body_sentences if s in summary]
    assert 1 <= len(picked) <= 3
    assert " ".join(picked) == summary  # whole sentences from the body, in order
    assert summary != SEED_LINES[1].strip()  # not the standfirst
    assert (work / "briefbot.db").exists()  # the embedded default: SQLite in the cwd


def test_brief_json_and_markdown(tmp_path: Path) -> None:
    seeds = str(REPO / "seeds")
    done = briefbot("brief", "--seeds", seeds, "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["items"][0]["headline"] == SEED_LINES[0].strip()
    assert data["items"][0]["sources"] == [{"name": "seeds", "url": None}]
    assert "recency" in data["items"][0]["score_parts"]
    md = briefbot("brief", "--seeds", seeds, "--format", "markdown", cwd=tmp_path)
    assert md.stdout.startswith("# Briefing — ")
    assert f"1. **{SEED_LINES[0].strip()}**" in md.stdout


def test_version_and_help(tmp_path: Path) -> None:
    assert briefbot("--version", cwd=tmp_path).stdout.strip() == f"briefbot {__version__}"
    helped = briefbot("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for word in ("brief", "run", "check-config", "feeds", "ingest"):
        assert word in helped.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("brief", "--since", "forever"), "I didn't understand “last forever”"),
        (("brief", "--seeds", "/no/such/folder"), "is not a folder"),
        (("brief", "--format", "pdf"), "invalid choice"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = briefbot(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_check_config_reports_missing_slack_secret(tmp_path: Path) -> None:
    config = tmp_path / "briefbot.toml"
    config.write_text('[slack]\nenabled = true\nmode = "http"\n')
    done = briefbot("check-config", cwd=tmp_path)
    assert done.returncode == 2
    assert "SLACK_" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_config_lists_the_adapters_the_environment_enables(tmp_path: Path) -> None:
    env = bot_env()
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-secret",
        SLACK_APP_TOKEN="xapp-test-secret",
        DISCORD_TOKEN="discord-test-secret",
        HOOK_NEWS="https://discord.com/api/webhooks/1/hook-secret",
    )
    (tmp_path / "briefbot.toml").write_text('[webhooks]\nurl_envs = ["HOOK_NEWS"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "slack: socket mode" in done.stdout
    assert "discord: gateway" in done.stdout
    assert "webhook: HOOK_NEWS" in done.stdout
    for secret in ("xoxb-test-secret", "xapp-test-secret", "discord-test-secret", "hook-secret"):
        assert secret not in done.stdout + done.stderr
