"""The systemd units in deploy/ start commands the real `briefbot` parser accepts, and
each per-role unit runs the role its name says."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from bot.cli.main import _parser

UNITS = sorted((Path(__file__).resolve().parents[1] / "deploy" / "systemd").glob("*.service"))


def exec_start(unit: Path) -> list[str]:
    (line,) = [
        x for x in unit.read_text(encoding="utf-8").splitlines() if x.startswith("ExecStart=")
    ]
    return shlex.split(line.removeprefix("ExecStart="))


def test_there_is_one_unit_per_role() -> None:
    names = {u.name for u in UNITS}
    assert {"briefbot.service", "briefbot-scheduler.service"} <= names
    assert {"briefbot-worker@.service", "briefbot-chat@.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_command_parses_and_runs_its_role(unit: Path) -> None:
    argv = exec_start(unit)
    assert argv[0].endswith("/briefbot")
    args = _parser().parse_args(argv[1:])
    assert args.command == "run" and args.no_console
    role = unit.name.removeprefix("briefbot").removesuffix(".service").strip("-@") or "all"
    assert (args.role or "all") == role
