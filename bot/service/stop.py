"""How `briefbot run` ends: its work finishes, or SIGTERM/SIGINT asks it to stop.

systemd, containers and nohup start the bot with no terminal and stop it with SIGTERM.
Python's default for SIGTERM kills the process on the spot, with the store open and a
delivery half sent; here the signal only ends the wait, and the runtime's ``finally``
stops the scheduler, the adapters and the store in order. A claimed delivery that did
not finish stays pending and is resumed with the same key by the next leader.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable
from contextlib import suppress

log = logging.getLogger(__name__)


async def run_until_stopped(
    work: Awaitable[None] | None, *, signals: tuple[signal.Signals, ...]
) -> str:
    """Await ``work`` (``None``: nothing, i.e. until a signal); returns why it ended."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        log.info("briefbot: %s received, stopping", sig.name)
        stop.set()

    installed = []
    for sig in signals:
        with suppress(NotImplementedError, RuntimeError):  # no signals on this platform
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    waiter = asyncio.ensure_future(stop.wait())
    task = asyncio.ensure_future(work) if work is not None else None
    try:
        pending = {waiter} | ({task} if task else set())
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if task is not None and task.done():
            task.result()  # an adapter's failure ends the process with its error
            return "done"
        return received[0] if received else "stopped"
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        for pending_task in (waiter, task):
            if pending_task is not None and not pending_task.done():
                pending_task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await pending_task
