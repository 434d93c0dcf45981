"""A `briefbot run` child process, as the process tests drive it.

The real CLI (``python -m bot -c <config> run``) with this checkout's code and only the
tokens a test passes (``tests.support.bot_env``). Its log (stderr) is read line by line
as it comes, so the child never blocks on a full pipe; a test waits for log lines,
reads the ports the child bound (configs ask for port 0: no port picked in advance to
race for), then stops it as systemd does (SIGTERM), as Ctrl-C does (SIGINT), or kills
it (SIGKILL). ``run_child`` kills whatever is still running when the test ends.

Used by ``tests/kill_harness.py``, ``tests/service/test_run_process.py`` and
``tests/web/test_service_process.py``; ``run_command`` runs a one-shot command
(``check-config``, ``deliver-now``) to its end for those and ``tests/test_admin_cli.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from tests.support import bot_env

HANG_LIMIT_S = 60.0  # a wait or an exit; on a loaded machine the imports alone take seconds
STOP_LIMIT_S = 10.0  # SIGTERM to exit: the bound for a clean stop
_PORTS = {
    "slack": re.compile(r"slack listening mode=http host=\S+ port=(\d+)"),
    "web": re.compile(r"web: status page and /metrics at http://[^:/]+:(\d+)/"),
}


class BotProcess:
    """One `briefbot run` child and every line of its log."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.started = time.monotonic()
        self.first_line: float | None = None  # when the interpreter and imports were up
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, config: Path, *args: str, **env: str) -> BotProcess:
        """``briefbot -c config run *args`` in the config's folder; ``env`` on top of
        ``bot_env``. Stacks are dumped on SIGABRT (``PYTHONFAULTHANDLER``)."""
        env = bot_env(PYTHONFAULTHANDLER="1", **env)
        return cls(await spawn(config, "run", *args, env=env, stdout=asyncio.subprocess.DEVNULL))

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            if self.first_line is None:
                self.first_line = time.monotonic()
            self.lines.append(raw.decode(errors="replace").rstrip())
            self._changed.set()
        self._changed.set()  # end of the log: a waiter must not wait for more

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def tail(self, lines: int = 60) -> str:
        """The end of the log, for a message about a long run."""
        return "\n".join(self.lines[-lines:])

    async def _until(self, found: Callable[[], bool], what: str) -> None:
        """Until ``found()`` is true of the log; a child that ends its log first, or
        that takes ``HANG_LIMIT_S``, fails the test with its log."""
        try:
            async with asyncio.timeout(HANG_LIMIT_S):
                while not found():
                    if self._reader.done():
                        raise AssertionError(f"briefbot exited before {what}:\n{self.log}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"no {what} in {HANG_LIMIT_S:g} s; the log so far:\n{self.log}"
            ) from None

    async def wait_for_log(self, text: str, count: int = 1) -> None:
        """Until ``text`` appeared ``count`` times in the log."""
        await self._until(lambda: self.log.count(text) >= count, f"{text!r} x{count}")

    async def wait_for_line(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """The first log line ``pattern`` matches, once there is one."""

        def search() -> re.Match[str] | None:
            return next(filter(None, map(pattern.search, self.lines)), None)

        await self._until(lambda: search() is not None, f"line matching {pattern.pattern!r}")
        found = search()
        assert found is not None
        return found

    async def port_of(self, service: str) -> int:
        """The port ``service`` ("slack" or "web") bound, as its log line says."""
        return int((await self.wait_for_line(_PORTS[service])).group(1))

    async def exit_code(self) -> tuple[int, float]:
        """The exit code and seconds from the first log line (the interpreter and
        imports are up) to the exit; a hang dumps every thread's stack and fails."""
        try:
            async with asyncio.timeout(HANG_LIMIT_S):
                code = await self.reap()
        except TimeoutError:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack
            try:
                async with asyncio.timeout(5):
                    await self.reap()
            except TimeoutError:
                self.kill()
                await self.reap()
            raise AssertionError(
                f"briefbot hung (no exit in {HANG_LIMIT_S:g} s):\n{self.log}"
            ) from None
        return code, time.monotonic() - (self.first_line or self.started)

    async def interrupt(self) -> tuple[int, float]:
        """Ctrl-C (SIGINT), then the exit code and the seconds the shutdown took."""
        self.proc.send_signal(signal.SIGINT)
        asked = time.monotonic()
        code, _ = await self.exit_code()
        return code, time.monotonic() - asked

    async def stop(self, limit_s: float = STOP_LIMIT_S) -> int:
        """SIGTERM, as systemd stops it; the exit code. A child still up after
        ``limit_s`` is killed (the code is then -9, which no test takes for a stop)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(limit_s):
                return await self.reap()
        except TimeoutError:
            self.kill()
            return await self.reap()

    def kill(self) -> None:
        """SIGKILL now: nothing of the child's own shutdown runs."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)

    async def reap(self) -> int:
        """Wait for the exit and the end of the log; the exit code."""
        code = await self.proc.wait()
        await self._reader
        return code


async def spawn(
    config: Path, *args: str, env: dict[str, str], stdout: int
) -> asyncio.subprocess.Process:
    """``python -m bot -c config *args`` in the config's folder, with ``env`` only and
    stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "-c",
        str(config),
        *args,
        cwd=config.parent,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_command(
    config: Path, *args: str, env: dict[str, str], limit_s: float = HANG_LIMIT_S
) -> tuple[int, str, str]:
    """A one-shot command (``check-config``, ``deliver-now`` ...) to its end: the exit
    code, stdout and stderr."""
    proc = await spawn(config, *args, env=env, stdout=asyncio.subprocess.PIPE)
    async with asyncio.timeout(limit_s):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def run_child(config: Path, *args: str, **env: str) -> AsyncIterator[BotProcess]:
    """``BotProcess.start`` for the ``async with`` block; a child still running at
    its end (a failed test) is killed and reaped."""
    child = await BotProcess.start(config, *args, **env)
    try:
        yield child
    finally:
        child.kill()
        await child.reap()
