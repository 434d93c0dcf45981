"""The shipped Slack app manifest matches what the adapter needs, in both modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.chat.slack import BOT_SCOPES, SlackOptions

yaml = pytest.importorskip("yaml", reason="PyYAML reads the manifest in this test only")

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-manifest.yml"


def load(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def test_socket_mode_manifest() -> None:
    manifest = load(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["settings"]["socket_mode_enabled"] is True
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == SlackOptions().command == "/briefing"
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(events)


def test_http_variant_documented_in_comments_is_valid() -> None:
    """Uncommenting the HTTP-mode lines, as the header says, gives a valid manifest."""
    lines = []
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(("# url:", "# request_url:", "# redirect_urls:", "#   - https")):
            line = indent + stripped[2:].split("  #")[0].rstrip()
        lines.append(line.replace("socket_mode_enabled: true", "socket_mode_enabled: false"))
    manifest = load("\n".join(lines))
    events_url = "https://briefbot.example.com/slack/events"
    assert manifest["features"]["slash_commands"][0]["url"] == events_url
    assert manifest["settings"]["event_subscriptions"]["request_url"] == events_url
    redirect = manifest["oauth_config"]["redirect_urls"]
    assert redirect == ["https://briefbot.example.com/slack/oauth_redirect"]
    assert manifest["settings"]["socket_mode_enabled"] is False
