"""The tasks of `briefbot run` and their orderly end.

Every task the runtime starts belongs to the supervisor: the chat adapters and the
background work (the start-up digest catch-up). ``wait`` returns when the adapters are
done and raises the first adapter failure; whatever happens (a failure, Ctrl-C), the
runtime then calls ``shutdown``, which stops the scheduler and awaits its running jobs
first, then cancels and awaits the background tasks, then the adapters. Only after
that may the database close — closing it under a task still running is what made
`briefbot run` hang on exit.

An adapter that cannot reach its platform at start (``Unavailable``) is retried with
exponential backoff, each attempt logged, while the other adapters keep serving; a
refused token (``ConfigError``) ends the process with exit code 2.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.chat.startup import Unavailable
from bot.errors import ConfigError

log = logging.getLogger(__name__)

#: An adapter's runner: serves until cancelled, calling ``ready()`` once it serves.
Runner = Callable[[Callable[[], None]], Awaitable[None]]

#: How long one group of tasks may take to stop after it was cancelled.
SETTLE_TIMEOUT_S = 10.0
#: How long work that ends by itself (a scheduler job, the catch-up) may finish first.
GRACE_S = 3.0


@dataclass(frozen=True)
class Backoff:
    """Delays between start attempts: ``initial`` doubling up to ``maximum`` seconds."""

    initial: float = 5.0
    maximum: float = 300.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * 2 ** max(attempt - 1, 0)))


class Stoppable(Protocol):
    async def stop(self, grace_s: float = 0.0) -> None: ...


ProblemHook = Callable[[str, "str | None"], None]


async def keep_trying(
    name: str, runner: Runner, backoff: Backoff, on_problem: ProblemHook | None = None
) -> None:
    """Run ``runner(ready)``; while it fails with ``Unavailable``, wait and run it again.

    ``on_problem(name, text)`` reports the adapter's state for /readyz: what is wrong
    while it retries, None once the runner calls ``ready()`` (it is serving).
    """

    def report(problem: str | None) -> None:
        if on_problem is not None:
            on_problem(name, problem)

    attempt = 0
    while True:
        try:
            await runner(lambda: report(None))
            return
        except Unavailable as exc:
            attempt += 1
            delay = backoff.delay(attempt)
            report(f"unavailable, retrying: {exc}")
            log.warning("%s (attempt %d); retrying in %.1f s", exc, attempt, delay)
            await asyncio.sleep(delay)
            log.info("%s: starting again (attempt %d)", name, attempt + 1)


async def settle(
    tasks: Sequence[asyncio.Task[Any]], limit_s: float = SETTLE_TIMEOUT_S, grace_s: float = 0.0
) -> None:
    """Let ``tasks`` finish for ``grace_s`` seconds, then cancel the rest and wait until
    each has finished (at most ``limit_s`` seconds).

    The grace matters for work in the middle of a database call: a cancelled aiosqlite
    call keeps running in its thread and may finish after the loop has closed.
    Exceptions of the tasks are consumed (and logged when unexpected): this is the
    path out, the first failure has already been reported.
    """
    pending = [t for t in tasks if not t.done()]
    if pending and grace_s > 0:
        await asyncio.wait(pending, timeout=grace_s)
        pending = [t for t in pending if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        _, stuck = await asyncio.wait(pending, timeout=limit_s)
        for task in stuck:
            log.error("shutdown: task %s did not stop within %.0f s", task.get_name(), limit_s)
    for task in tasks:
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None and not isinstance(exc, ConfigError | Unavailable):
                log.debug("shutdown: task %s had failed: %r", task.get_name(), exc)


class Supervisor:
    """Owns the runtime's tasks; see the module docstring for the order of shutdown."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        self._backoff = backoff or Backoff()
        self._adapters: list[asyncio.Task[None]] = []
        self._background: list[asyncio.Task[None]] = []
        self._stopped = False
        #: Set when shutdown begins: work still waiting to start gives up at once.
        self.stopping = asyncio.Event()

    def adapter(
        self, name: str, runner: Runner, on_problem: ProblemHook | None = None
    ) -> asyncio.Task[None]:
        """Start a chat adapter (retried with backoff while its platform is unavailable)."""
        task = asyncio.create_task(keep_trying(name, runner, self._backoff, on_problem), name=name)
        self._adapters.append(task)
        return task

    def background(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start work that ends by itself and logs its own failures (catch-up)."""
        task = asyncio.create_task(coro, name=name)
        self._background.append(task)
        return task

    @property
    def adapters(self) -> int:
        return len(self._adapters)

    async def wait(self) -> None:
        """Until every adapter has ended; raises the first adapter failure at once."""
        if not self._adapters:
            return
        done, _ = await asyncio.wait(self._adapters, return_when=asyncio.FIRST_EXCEPTION)
        failed = [t for t in done if not t.cancelled() and t.exception() is not None]
        if failed:
            # A refused token wins over other failures: it decides the exit code.
            failed.sort(key=lambda t: not isinstance(t.exception(), ConfigError))
            exc = failed[0].exception()
            assert exc is not None
            raise exc

    async def shutdown(self, scheduler: Stoppable | None = None) -> None:
        """Scheduler first, then background work, then the adapters; each awaited."""
        if self._stopped:
            return
        self._stopped = True
        self.stopping.set()
        if scheduler is not None:
            await scheduler.stop(GRACE_S)
        await settle(self._background, grace_s=GRACE_S)
        await settle(self._adapters)


__all__ = ["Backoff", "Supervisor", "keep_trying", "settle"]
