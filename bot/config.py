"""Settings: declared once as typed dataclasses, loaded from TOML, validated at start-up.

Every error names the exact key (``config: [briefing] max_stories must be 1..25, got 0``).
Secrets never live in the file: tokens come from the environment (see ``Secrets``), and
``database_url`` may be overridden by ``BRIEFBOT_DATABASE_URL`` so a password stays out
of the committed config.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
import zoneinfo
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

DEFAULT_CONFIG_NAMES = ("briefbot.toml", "config.toml")


@dataclass(frozen=True)
class BotSection:
    timezone: str = "UTC"
    database_url: str = "sqlite:///./briefbot.db"
    log_level: str = "INFO"
    log_format: str = "text"


@dataclass(frozen=True)
class SourcesSection:
    seeds_dir: str = "seeds"
    seeds_interval_minutes: float = 5.0
    poll_interval_minutes: float = 15.0
    feeds: list[str] = field(default_factory=list)
    allow_private_networks: bool = False
    trusted_hosts: list[str] = field(default_factory=list)
    teaser_chars: int = 600
    max_body_mb: float = 10.0
    fetch_timeout_s: float = 20.0
    per_host_concurrency: int = 2
    global_concurrency: int = 16
    backfill: int = 0
    retention_days: float = 30.0
    disable_after_days: float = 14.0


@dataclass(frozen=True)
class BriefingSection:
    max_stories: int = 10
    window_hours: float = 24.0
    summary_sentences: int = 3
    summary_chars: int = 600
    half_life_hours: float = 12.0
    story_window_hours: float = 48.0
    source_weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatSection:
    admin_user_ids: list[str] = field(default_factory=list)
    console_channel: str = "console"
    # An adapter that cannot reach its platform at start retries with backoff.
    start_retry_s: float = 5.0
    start_retry_max_s: float = 300.0


@dataclass(frozen=True)
class SlackSection:
    enabled: bool = False
    mode: str = "socket"
    host: str = "0.0.0.0"
    port: int = 3000
    api_url: str = "https://slack.com/api/"


@dataclass(frozen=True)
class DiscordSection:
    enabled: bool = False
    application_id: str = ""
    guild_ids: list[str] = field(default_factory=list)
    shard_count: int = 0
    shard_ids: list[int] = field(default_factory=list)
    # Test-only: point discord.py at a loopback fake (empty = the real Discord).
    api_base: str = ""
    gateway_url: str = ""


@dataclass(frozen=True)
class WebhooksSection:
    url_envs: list[str] = field(default_factory=list)
    schedule: str = "weekdays 08:00"
    timezone: str = "UTC"
    topics: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LLMSection:
    enabled: bool = False
    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "llama3.2"
    timeout_s: float = 20.0
    max_input_tokens: int = 2000


@dataclass(frozen=True)
class WebSection:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class ServiceSection:
    role: str = "all"
    poll_check_s: float = 60.0
    leader_check_s: float = 60.0
    grouping_check_s: float = 10.0
    grouping_max_wait_s: float = 120.0


ROLES = ("all", "worker", "scheduler", "chat")


@dataclass(frozen=True)
class DeliverySection:
    # Test-only: every scheduled channel gets a digest every N seconds instead of its own
    # schedule (the kill test and bench/kill.py). 0 = off; never set it in production.
    test_digest_every_seconds: float = 0.0


@dataclass(frozen=True)
class Settings:
    bot: BotSection = field(default_factory=BotSection)
    sources: SourcesSection = field(default_factory=SourcesSection)
    briefing: BriefingSection = field(default_factory=BriefingSection)
    chat: ChatSection = field(default_factory=ChatSection)
    slack: SlackSection = field(default_factory=SlackSection)
    discord: DiscordSection = field(default_factory=DiscordSection)
    llm: LLMSection = field(default_factory=LLMSection)
    webhooks: WebhooksSection = field(default_factory=WebhooksSection)
    web: WebSection = field(default_factory=WebSection)
    service: ServiceSection = field(default_factory=ServiceSection)
    delivery: DeliverySection = field(default_factory=DeliverySection)
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def database_url(self) -> str:
        return self.bot.database_url

    @property
    def seeds_path(self) -> Path:
        return (self.base_dir / self.sources.seeds_dir).resolve()


_SECTIONS = tuple(f.name for f in fields(Settings) if f.name != "base_dir")


def _section_types() -> dict[str, type[Any]]:
    hints = typing.get_type_hints(Settings)
    return {name: hints[name] for name in _SECTIONS}


def _check_type(where: str, value: Any, hint: Any) -> Any:
    """Return ``value`` coerced to ``hint`` or raise a ConfigError naming ``where``."""
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config: {where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config: {where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"config: {where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"config: {where} must be a string, got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"config: {where} must be a list, got {value!r}")
        return [_check_type(f"{where}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"config: {where} must be a table, got {value!r}")
        return {str(k): _check_type(f"{where}.{k}", v, item) for k, v in value.items()}
    if isinstance(hint, types.UnionType):  # pragma: no cover - no optional keys yet
        return value
    raise ConfigError(f"config: {where} has an unsupported type")  # pragma: no cover


def _build_section(name: str, cls: type[Any], table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"config: [{name}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"config: [{name}] unknown key {key!r} (known: {', '.join(sorted(known))})"
            )
        values[key] = _check_type(f"[{name}] {key}", value, hints[key])
    return cls(**values)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(f"config: {message}")


def validate(settings: Settings) -> Settings:
    """Cross-field and range checks; returns the settings unchanged when they are sound."""
    try:
        zoneinfo.ZoneInfo(settings.bot.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"config: [bot] timezone {settings.bot.timezone!r} is not a known time zone "
            "(use an IANA name such as 'Europe/Kyiv')"
        ) from None
    url = settings.database_url
    _require(
        url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")),
        f"[bot] database_url must start with sqlite:// or postgresql://, got {url.split(':')[0]!r}",
    )
    _require(
        settings.bot.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
        f"[bot] log_level must be DEBUG, INFO, WARNING or ERROR, got {settings.bot.log_level!r}",
    )
    _require(
        settings.bot.log_format in {"text", "json"},
        f'[bot] log_format must be "text" or "json", got {settings.bot.log_format!r}',
    )
    _require(0 <= settings.web.port <= 65535, "[web] port must be 0..65535 (0: any free port)")
    every = settings.delivery.test_digest_every_seconds
    _require(
        every == 0 or 1 <= every <= 3600,
        f"[delivery] test_digest_every_seconds must be 0 (off) or 1..3600, got {every}",
    )
    b = settings.briefing
    _require(1 <= b.max_stories <= 25, f"[briefing] max_stories must be 1..25, got {b.max_stories}")
    _require(
        0 < b.window_hours <= 24 * 31,
        f"[briefing] window_hours must be in (0, 744], got {b.window_hours}",
    )
    _require(
        1 <= b.summary_sentences <= 3,
        f"[briefing] summary_sentences must be 1..3, got {b.summary_sentences}",
    )
    _require(
        80 <= b.summary_chars <= 3000,
        f"[briefing] summary_chars must be 80..3000, got {b.summary_chars}",
    )
    _require(b.half_life_hours > 0, "[briefing] half_life_hours must be > 0")
    _require(b.story_window_hours > 0, "[briefing] story_window_hours must be > 0")
    s = settings.sources
    _require(s.seeds_interval_minutes > 0, "[sources] seeds_interval_minutes must be > 0")
    _require(s.poll_interval_minutes >= 1, "[sources] poll_interval_minutes must be >= 1")
    _require(s.max_body_mb > 0, "[sources] max_body_mb must be > 0")
    _require(s.per_host_concurrency >= 1, "[sources] per_host_concurrency must be >= 1")
    _require(s.global_concurrency >= 1, "[sources] global_concurrency must be >= 1")
    _require(s.backfill >= 0, "[sources] backfill must be >= 0")
    for n, url in enumerate(s.feeds):
        _require(
            url.strip().lower().startswith(("http://", "https://")),
            f"[sources] feeds[{n}] must be an http(s) URL, got {url!r}",
        )
    _require(
        s.disable_after_days >= 0,
        f"[sources] disable_after_days must be >= 0 (0: never), got {s.disable_after_days:g}",
    )
    _require(
        s.retention_days >= 1,
        f"[sources] retention_days must be >= 1, got {s.retention_days:g}",
    )
    _require(
        settings.slack.mode in {"socket", "http"},
        f'[slack] mode must be "socket" or "http", got {settings.slack.mode!r}',
    )
    _require(0 <= settings.slack.port <= 65535, "[slack] port must be 0..65535 (0: any free port)")
    _require(
        settings.slack.api_url.startswith(("https://", "http://"))
        and settings.slack.api_url.endswith("/"),
        f"[slack] api_url must be an http(s) URL ending in /, got {settings.slack.api_url!r}",
    )
    v = settings.service
    _require(
        v.role in ROLES,
        f"[service] role must be one of {', '.join(ROLES)}, got {v.role!r}",
    )
    _require(
        v.role == "all" or not url.startswith("sqlite:"),
        f'[service] role = "{v.role}" needs PostgreSQL: on SQLite one process does it all',
    )
    for key in ("poll_check_s", "leader_check_s", "grouping_check_s"):
        _require(getattr(v, key) >= 0.5, f"[service] {key} must be >= 0.5")
    _require(v.grouping_max_wait_s >= 0, "[service] grouping_max_wait_s must be >= 0")
    c = settings.chat
    _require(
        0 < c.start_retry_s <= c.start_retry_max_s,
        "[chat] start_retry_s must be > 0 and <= start_retry_max_s",
    )
    d = settings.discord
    _require(d.shard_count >= 0, "[discord] shard_count must be >= 0")
    _require(
        all(0 <= i < d.shard_count for i in d.shard_ids),
        f"[discord] shard_ids must be within 0..shard_count-1 (shard_count = {d.shard_count})",
    )
    for name in settings.webhooks.url_envs:
        _require(
            bool(re.fullmatch(r"[A-Z_][A-Z0-9_]*", name)),
            f"[webhooks] url_envs holds environment variable names, got {name!r} "
            "(put the URL itself in the environment, never in this file)",
        )
    if settings.webhooks.url_envs:
        from bot.core.schedule import check_timezone, parse_schedule
        from bot.errors import CommandError

        try:
            parse_schedule(settings.webhooks.schedule.split())
            check_timezone(settings.webhooks.timezone)
        except CommandError as exc:
            raise ConfigError(f"config: [webhooks] {exc}") from None
    return settings


def parse_settings(data: dict[str, Any], base_dir: Path) -> Settings:
    """Build validated settings from a parsed TOML document."""
    sections = _section_types()
    built: dict[str, Any] = {}
    for name, table in data.items():
        if name not in sections:
            raise ConfigError(
                f"config: unknown section [{name}] (known: {', '.join(sorted(sections))})"
            )
        built[name] = _build_section(name, sections[name], table)
    settings = Settings(base_dir=base_dir, **built)
    env_url = os.environ.get("BRIEFBOT_DATABASE_URL")
    if env_url:
        settings = replace(settings, bot=replace(settings.bot, database_url=env_url))
    return validate(settings)


def load_settings(path: Path | None = None) -> Settings:
    """Load ``path``; with no path, the first of briefbot.toml/config.toml here, else defaults.

    A path given explicitly must exist. Relative paths in the file (``seeds_dir``) are
    resolved against the file's folder.
    """
    if path is None:
        for name in DEFAULT_CONFIG_NAMES:
            if Path(name).is_file():
                path = Path(name)
                break
        else:
            return parse_settings({}, Path.cwd())
    if not path.is_file():
        raise ConfigError(f"config: file {str(path)!r} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config: cannot read {path}: {exc}") from None
    return parse_settings(data, path.resolve().parent)


def test_settings(tmp_path: Path, **sections: Any) -> Settings:
    """Settings for tests: a SQLite file under ``tmp_path`` and the repo's ``seeds/``.

    ``sections`` override whole sections or single keys: ``briefing={"max_stories": 5}``.
    """
    repo = Path(__file__).resolve().parents[1]
    base = Settings(base_dir=repo)
    base = replace(
        base,
        bot=replace(base.bot, database_url=f"sqlite:///{tmp_path / 'briefbot.db'}"),
    )
    for name, value in sections.items():
        current = getattr(base, name)
        if isinstance(value, dict):
            value = replace(current, **value)
        base = replace(base, **{name: value})
    return validate(base)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
