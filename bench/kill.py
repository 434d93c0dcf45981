"""Kill test: SIGKILL a real `briefbot run` at N moments mid-digest, on SQLite and on
PostgreSQL, and count what reached the loopback Slack and Discord fakes.

    python bench/kill.py [--points 100] [--database sqlite|postgres|both] [--json]

Prints one JSON object per database (``--json``) or a table: points, slots delivered,
parts, duplicates and lost (both must be 0), where the kills were aimed and where they
landed. PostgreSQL comes from ``BRIEFBOT_TEST_POSTGRES_URL`` (default: the local test
database; its public schema is dropped and recreated). The harness is
``tests/kill_harness.py``; ``tests/test_kill.py`` runs a few points in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import kill_harness  # noqa: E402

POSTGRES_URL = os.environ.get(
    "BRIEFBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def fresh_postgres(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


async def one(database: str, points: int, seed: int, every: float) -> kill_harness.KillReport:
    with tempfile.TemporaryDirectory(prefix=f"kill-{database}-") as folder:
        workdir = Path(folder)
        if database == "postgres":
            url = fresh_postgres(POSTGRES_URL)
        else:
            url = f"sqlite:///{workdir / 'kill.db'}"
        return await kill_harness.run(
            url,
            database,
            workdir,
            points=points,
            seed=seed,
            every_s=every,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )


def table(report: kill_harness.KillReport) -> str:
    lines = [
        f"{report.database}: {report.points} kills in {report.seconds:g} s",
        f"  slots delivered {report.slots} ({report.parts} parts, {report.threaded} in "
        f"thread mode), empty {report.empty}",
        f"  duplicates {report.duplicates}, lost {report.lost}",
        "  kills aimed at: " + ", ".join(f"{k} {v}" for k, v in sorted(report.kills.items())),
        "  deliveries caught: " + ", ".join(f"{k} {v}" for k, v in sorted(report.landed.items())),
    ]
    lines += [f"  problem: {p}" for p in report.problems]
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between slots")
    parser.add_argument("--json", action="store_true", help="one JSON object per database")
    args = parser.parse_args()
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    failed = False
    for database in databases:
        report = await one(database, args.points, args.seed, args.every)
        failed |= bool(report.duplicates or report.lost or report.problems)
        if args.json:
            print(json.dumps(report.as_json()), flush=True)
        else:
            print(table(report), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
