"""The console chat adapter: a terminal REPL, and the in-process test harness.

``ConsoleHarness.command("/briefing ukraine")`` returns exactly what a user at the
terminal would read, so tests drive the whole bot the way a person does.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bot.core.commands import CommandRouter
from bot.core.models import IncomingCommand, Reply
from bot.core.usage import TERMINAL, words
from bot.delivery.render_text import render_text

log = logging.getLogger(__name__)

PROMPT = "briefbot> "
_BOLD = re.compile(r"\*(\S[^*\n]*\S)\*")
GREETING = "briefbot console — type /briefing (or /briefing help). Ctrl-D or `quit` to leave.\n"
#: Shown first when no chat token is set: the two next steps a newcomer looks for.
FIRST_STEPS = (
    "Add a feed: /briefing subscribe <site or feed URL> here, or `briefbot feeds add URL` "
    '(README: "Commands").\n'
    "Connect Slack or Discord: export SLACK_BOT_TOKEN + SLACK_APP_TOKEN, or DISCORD_TOKEN, "
    'then run briefbot again (README: "Connecting Slack and Discord").\n'
)


def render_reply(reply: Reply) -> str:
    if reply.briefing is not None:
        return render_text(reply.briefing)
    # Chat markup (*bold*, `code`) reads as noise in a terminal.
    text = _BOLD.sub(r"\1", words(reply.text, reply.say, TERMINAL).replace("`", ""))
    return text.rstrip() + "\n"


class ConsoleHarness:
    """Turns a typed line into a command and the reply into terminal text."""

    def __init__(self, router: CommandRouter, channel: str = "console", user: str = "you") -> None:
        self._router = router
        self._channel = channel
        self._user = user

    async def command(self, line: str) -> str:
        line = line.strip()
        if not line:
            return ""
        name, _, rest = line.partition(" ")
        if name.lower() not in {"/briefing", "briefing"}:
            return (
                f"Unknown command {name!r}. Try /briefing, /briefing help, "
                "/briefing ukraine or /briefing last 6h.\n"
            )
        reply = await self._router.dispatch(
            IncomingCommand(
                platform="console",
                channel=self._channel,
                user=self._user,
                text=rest,
                can_manage=True,  # whoever holds the terminal owns the bot
            )
        )
        return render_reply(reply)


async def run_repl(
    harness: ConsoleHarness,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    read_line: Callable[[], str] | None = None,
    hints: str = FIRST_STEPS,
) -> None:
    """Read lines until EOF (Ctrl-D) or ``quit``; Ctrl-C is handled by the caller.

    The terminal chat runs only when no chat token is set, so the greeting is followed
    by ``hints``: how to add a feed and how to connect Slack or Discord."""
    out = stdout or sys.stdout
    source = stdin or sys.stdin
    interactive = source.isatty()

    def default_read() -> str:
        if interactive:
            return input(PROMPT)
        line = source.readline()
        if not line:
            raise EOFError
        return line

    reader = read_line or default_read
    out.write(GREETING + hints)
    out.flush()
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    ready = threading.Event()  # the prompt shows only after the previous answer
    ready.set()

    def pump() -> None:
        # A daemon thread, so a blocked read never holds up exit on Ctrl-C.
        while True:
            ready.wait()
            ready.clear()
            try:
                line: str | None = reader()
            except (EOFError, OSError, ValueError):
                line = None
            loop.call_soon_threadsafe(lines.put_nowait, line)
            if line is None:
                return

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    while True:
        line = await lines.get()
        if line is None:
            out.write("\nbye\n")
            out.flush()
            return
        if line.strip().lower() in {"quit", "exit", "/quit", "/exit"}:
            out.write("bye\n")
            out.flush()
            return
        out.write(await harness.command(line))
        out.flush()
        ready.set()
