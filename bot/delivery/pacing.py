"""At most one message per interval per channel.

Slack does not answer 429 when a channel gets more than about one message a second: it
may silently drop the overflow. Every post to a Slack channel (digest parts, notices)
therefore waits its turn here. Clock and sleep are injectable, so tests check the
spacing on a virtual clock instead of timing real sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


class ChannelPacer:
    def __init__(
        self,
        interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_channels: int = 10_000,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}  # channel -> earliest time of its next post
        self._max = max_channels

    async def wait(self, channel: str) -> None:
        """Return when ``channel`` may take its next message, and book that slot."""
        if self.interval <= 0:
            return
        now = self._clock()
        slot = max(now, self._next.get(channel, now))
        self._next[channel] = slot + self.interval  # booked before sleeping: no race
        if len(self._next) > self._max:
            self._forget(now)
        if slot > now:
            await self._sleep(slot - now)

    def _forget(self, now: float) -> None:
        for channel in [c for c, t in self._next.items() if t <= now]:
            del self._next[channel]
