"""The kill test, fast mode: SIGKILL a real `briefbot run` at random moments mid-digest
(claim, render, send, between parts, mark), restart it, and check that every
(channel, slot) reached the loopback Slack and Discord fakes exactly once with every
part, on SQLite and on PostgreSQL. ``BRIEFBOT_KILL_POINTS`` (default 20) per database;
``python bench/kill.py --points 100`` is the long run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import kill_harness

POINTS = int(os.environ.get("BRIEFBOT_KILL_POINTS", "20"))


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_kill_at_random_points_loses_and_doubles_nothing(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'kill.db'}"
    report = await kill_harness.run(url, database, tmp_path, points=POINTS, seed=POINTS)
    assert report.problems == []
    assert (report.duplicates, report.lost) == (0, 0)
    assert report.points == POINTS
    # The kills caught digests mid-way, not only idle processes.
    assert report.slots >= POINTS // 2
    assert report.threaded > 0  # thread mode was under fire too
    assert sum(report.landed.values()) >= POINTS // 2, report.landed
