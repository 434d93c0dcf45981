"""What the `/briefing` commands are, so that each platform can word them its own way.

The router speaks in meaning: a reply that mentions a command carries a ``Say`` — a
template plus ``Ref`` s naming commands from ``COMMANDS`` (with example values or
placeholders). Each adapter renders the refs in its own syntax: Slack's text grammar
(``/briefing subscribe <feed url>``), Discord's application commands
(``/briefing-admin subscribe url:<feed url>``, the ``since:`` option) and the
terminal's plain text. ``Reply.text`` holds the default (Slack-style) wording for
callers that do not care.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.errors import CommandError


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument: its Discord option ``name``, the ``placeholder`` shown when no value
    is given, and what precedes the value in the text grammar (``last`` for a window)."""

    name: str
    placeholder: str
    text_prefix: str = ""
    optional: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command in both grammars: ``verb`` words after ``/briefing`` in text; the
    application ``command``, ``subcommand`` and ``fixed`` options on Discord."""

    key: str
    verb: str
    args: tuple[Arg, ...] = ()
    command: str = "briefing"
    subcommand: str = ""
    fixed: tuple[tuple[str, str], ...] = ()
    admin: bool = False


_TOPIC = Arg("topic", "words")
_SINCE = Arg("since", "window", text_prefix="last ")

COMMANDS: dict[str, CommandSpec] = {
    spec.key: spec
    for spec in (
        CommandSpec("briefing", "", (_TOPIC, _SINCE)),
        CommandSpec("help", "help", fixed=(("topic", "help"),)),
        CommandSpec("status", "status", fixed=(("topic", "status"),)),
        CommandSpec("story", "story", (Arg("n", "n"),), "briefing-story"),
        CommandSpec(
            "subscribe",
            "subscribe",
            (Arg("url", "feed url"),),
            "briefing-admin",
            "subscribe",
            admin=True,
        ),
        CommandSpec(
            "unsubscribe",
            "unsubscribe",
            (Arg("feed", "url or id"),),
            "briefing-admin",
            "unsubscribe",
            admin=True,
        ),
        CommandSpec("feeds", "feeds", (), "briefing-admin", "feeds", admin=True),
        CommandSpec(
            "topics_add",
            "topics add",
            (Arg("words", "words"),),
            "briefing-admin",
            "topics",
            (("action", "add"),),
            admin=True,
        ),
        CommandSpec(
            "topics_remove",
            "topics remove",
            (Arg("words", "words"),),
            "briefing-admin",
            "topics",
            (("action", "remove"),),
            admin=True,
        ),
        CommandSpec(
            "schedule",
            "schedule",
            (Arg("when", "when"), Arg("timezone", "time zone", optional=True)),
            "briefing-admin",
            "schedule",
            admin=True,
        ),
        CommandSpec(
            "schedule_off", "schedule off", (), "briefing-admin", "schedule", (("when", "off"),)
        ),
        CommandSpec("settings", "settings", (), "briefing-admin", "settings", admin=True),
        CommandSpec("mute", "mute", (Arg("words", "words"),), "briefing-admin", "mute", admin=True),
        CommandSpec(
            "mute_source",
            "mute source",
            (Arg("source", "outlet"),),
            "briefing-admin",
            "mute",
            admin=True,
        ),
        CommandSpec(
            "unmute", "unmute", (Arg("words", "words"),), "briefing-admin", "unmute", admin=True
        ),
        CommandSpec(
            "unmute_source",
            "unmute source",
            (Arg("source", "outlet"),),
            "briefing-admin",
            "unmute",
            admin=True,
        ),
        CommandSpec(
            "mention",
            "mention",
            (Arg("role", "@role, @group or here"),),
            "briefing-admin",
            "mention",
            admin=True,
        ),
        CommandSpec(
            "threads",
            "threads",
            (Arg("state", "on|off"),),
            "briefing-admin",
            "threads",
            admin=True,
        ),
        CommandSpec(
            "mention_off",
            "mention off",
            (),
            "briefing-admin",
            "mention",
            (("off", "True"),),
            admin=True,
        ),
        CommandSpec(
            "me",
            "me",
            (Arg("when", "when"), Arg("timezone", "time zone", optional=True)),
            "briefing-me",
        ),
        CommandSpec("me_off", "me off", (), "briefing-me", fixed=(("when", "off"),)),
    )
}


@dataclass(frozen=True, slots=True)
class Ref:
    """A mention of ``COMMANDS[key]``: ``values`` maps argument names to an example
    value, or to "" for the placeholder; arguments not named are left out."""

    key: str
    values: tuple[tuple[str, str], ...] = ()

    @property
    def spec(self) -> CommandSpec:
        return COMMANDS[self.key]

    def shown(self) -> list[tuple[Arg, str]]:
        """The arguments to show, in the command's order, with value or placeholder."""
        given = dict(self.values)
        return [(arg, given[arg.name]) for arg in self.spec.args if arg.name in given]


def ref(key: str, **values: str) -> Ref:
    """``ref("subscribe", url="")`` → the subscribe command with its placeholder."""
    if key not in COMMANDS:
        raise KeyError(key)
    return Ref(key, tuple(values.items()))


class Syntax(Protocol):
    """How one platform writes a command."""

    def command(self, mention: Ref) -> str: ...


@dataclass(frozen=True)
class TextSyntax:
    """The slash-text grammar: ``/briefing topics add <words>``, ``/briefing last 6h``."""

    prefix: str = "/briefing"
    quote: str = "`"

    def command(self, mention: Ref) -> str:
        parts = [self.prefix, mention.spec.verb]
        for arg, value in mention.shown():
            shown = value or (f"[{arg.placeholder}]" if arg.optional else f"<{arg.placeholder}>")
            parts.append(arg.text_prefix + shown)
        return self.quote + " ".join(p for p in parts if p) + self.quote


SLACK = TextSyntax()
TERMINAL = TextSyntax(quote="")
DEFAULT = SLACK


@dataclass(frozen=True, slots=True)
class Say:
    """Words with command mentions: ``template`` is ``str.format`` text whose ``{0}``,
    ``{1}``… are the ``refs`` (literal braces are doubled by ``say``)."""

    template: str
    refs: tuple[Ref, ...] = ()

    def words(self, syntax: Syntax = DEFAULT) -> str:
        return self.template.format(*(syntax.command(r) for r in self.refs))


def say(*parts: str | Ref) -> Say:
    """Join text and command mentions: ``say("Usage: ", ref("subscribe", url=""))``."""
    template: list[str] = []
    refs: list[Ref] = []
    for part in parts:
        if isinstance(part, Ref):
            template.append("{" + str(len(refs)) + "}")
            refs.append(part)
        else:
            template.append(part.replace("{", "{{").replace("}", "}}"))
    return Say("".join(template), tuple(refs))


class UsageError(CommandError):
    """A ``CommandError`` whose message mentions commands; adapters reword it."""

    def __init__(self, message: Say) -> None:
        super().__init__(message.words())
        self.say = message


def help_say(window: str, examples: str) -> Say:
    """The `/briefing help` text."""
    b = "briefing"
    lines: list[str | Ref] = [
        "*How to use /briefing*\n• ",
        ref(b),
        f" — the top stories of the last {window}\n• ",
        ref(b, topic=""),
        " — only stories about those words, e.g. ",
        ref(b, topic="ukraine"),
        "\n• ",
        ref(b, since="6h"),
        " — another time window (`30m`, `6h`, `2d`, `1w`; up to 31 days)\n• ",
        ref(b, topic="ukraine", since="2d"),
        " — both\n• ",
        ref("status"),
        " — the last digests, the next one, and failing feeds\n• ",
        ref("story", n=""),
        " — every article of story n of the last briefing here, and a longer summary"
        " (the same as its “Sources” button)\nChannel settings (admins):\n• ",
        ref("subscribe", url=""),
        " · ",
        ref("unsubscribe", feed=""),
        " · ",
        ref("feeds"),
        "\n• ",
        ref("topics_add", words=""),
        " · ",
        ref("topics_remove", words=""),
        " (a `-word` excludes)\n• ",
        ref("schedule", when="", timezone=""),
        f" — e.g. {examples}\n• ",
        ref("schedule_off"),
        " · ",
        ref("settings"),
        "\n• ",
        ref("mute", words=""),
        " · ",
        ref("mute_source", source=""),
        " — drop stories with those words, or that outlet's articles\n• ",
        ref("unmute", words=""),
        " · ",
        ref("unmute_source", source=""),
        "\n• ",
        ref("mention", role=""),
        " · ",
        ref("mention_off"),
        " — ping a role (Discord), a user group or @here (Slack) with each scheduled digest",
        "\nJust for you (anyone):\n• ",
        ref("me", when="", timezone=""),
        " · ",
        ref("me_off"),
        " — your own digest by direct message, from this channel's feeds and topics",
    ]
    return say(*lines)


def words(text: str, message: Say | None, syntax: Syntax) -> str:
    """``message`` in ``syntax`` when there is one, else ``text`` unchanged."""
    return message.words(syntax) if message is not None else text


__all__ = [
    "COMMANDS",
    "DEFAULT",
    "SLACK",
    "TERMINAL",
    "Arg",
    "CommandSpec",
    "Ref",
    "Say",
    "Syntax",
    "TextSyntax",
    "UsageError",
    "help_say",
    "ref",
    "say",
    "words",
]
