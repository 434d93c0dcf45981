"""News-aware sentence splitting.

``sentencex`` does the splitting in ``split_sentences``: on pySBD's English golden
rules it gets 43/48 at about 10,000 articles/s, where ``pysbd`` gets 47/48 at ~20
articles/s and spaCy and blingfire do worse. Around it we fix what news text adds:
datelines (``WASHINGTON (Reuters) —``, ``(CNN) --``), byline and time-stamp lines,
boilerplate lines ("Advertisement", "Read more ..."), and splits before a lower-case
word (``"We will win." he said``), which are never sentence starts in English news.

``lead_sentences`` (the summariser's nine sentences) splits with ``_news_pieces``
instead: sentencex's rules for news in Python, lazily. sentencex pairs quotes over a
whole paragraph before it splits, and a CNN/DM article is one 3,000-character
paragraph; cutting the paragraph first changes its sentences wherever a quote crosses
the cut, and its quote heuristics count every "'" of the paragraph. The same fixes
run on both. On 4,204 real articles 97.8% of lead sentences agree (see
tests/text/test_sentences.py); lead_sentences takes 66.8 instead of 76.0 us per
CNN/DM article.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import product

from sentencex import segment

__all__ = ["clean_text", "lead_sentences", "split_sentences", "strip_dateline"]

# Whole lines that carry no article content.
# Words a time-stamp line may contain besides digits and punctuation.
_DATE_WORDS = (
    r"[ap]\.m\.|\b(?:on|at|and|updated|published|gmt|utc|bst|cet|cest|est|edt|pst|pdt|et|pt|"
    r"am|pm|jan\w*|feb\w*|mar\w*|apr\w*|may|june?|july?|aug\w*|sep\w*|oct\w*|"
    r"nov\w*|dec\w*|mon\w*|tue\w*|wed\w*|thu\w*|fri\w*|sat\w*|sun\w*)\b"
)

_BOILERPLATE_LINE = re.compile(
    r"""^(?:
        advertisements?|advertising|sponsored(?:\s+content)?|ad
      | (?:read|see|click|tap)\s+(?:more|here|also|the\s+full).{0,80}
      | related(?:\s+(?:articles?|stories|coverage|content|links?))?\s*(?::.{0,100})?
      | (?:more|also)\s*(?:on|from)\s*[:|].{0,80}
      | share\s+(?:this|on)\b.{0,60}
      | (?:follow|like)\s+us\b.{0,80}
      | (?:sign\s+up|subscribe)\b.{0,100}
      | (?:story|article)\s+continues\s+(?:below|after).{0,40}
      | scroll\s+down\s+for\s+(?:video|more).{0,20}
      | (?:watch|video|photos?|gallery|listen)\s*[:|]?\s*.{0,60}\s*\(?\d{1,2}:\d{2}\)?
      | (?:copyright|©)\s.{0,120}|all\s+rights\s+reserved\.?
      | (?:published|updated|last\s+(?:updated|modified))\s*:?\s*(?:{date}|[\d:,./|+\-\s])+
      | getty\s+images|image\s+(?:copyright|caption).{0,100}|ap\s+photo.{0,60}
    )\s*$""".replace("{date}", _DATE_WORDS),
    re.IGNORECASE | re.VERBOSE,
)
# The first three characters (lower-cased) of every line _BOILERPLATE_LINE can match
# ("ad" is a whole line; "ap " starts "AP Photo"), so most sentences skip the regex.
# Non-ASCII starts always run it: IGNORECASE lets "ſ" or "K" stand for "s" or "k".
_HEADS = (
    "ad", "adv", "spo", "rea", "see", "cli", "tap", "rel", "mor", "als", "sha", "fol",
    "lik", "sig", "sub", "sto", "art", "scr", "wat", "vid", "pho", "gal", "lis", "cop",
    "all", "pub", "upd", "las", "get", "ima", "ap ",
)  # fmt: skip
# ... in every case ("Adv", "ADV"), so that a line's head needs no lower-casing.
_BOILERPLATE_HEADS = frozenset(
    "".join(case) for head in _HEADS for case in product(*[(char, char.upper()) for char in head])
)

# "By Jane Doe, Reuters", "By . Daily Mail Reporter ." (case matters: "By Tuesday, the ...").
_NAME = r"(?:[A-Z][\w.'’\-]*|and|de|da|van|von|der|for|the|of)"
_BYLINE = re.compile(
    rf"^By\s+(?:\.\s*)?[A-Z][\w.'’\-]*(?:\s+{_NAME})*"
    rf"(?:\s*(?:,|\||and|for|-|—)\s*{_NAME}(?:\s+{_NAME})*)*\s*\.?$"
)

# "Scroll down for video" and "Advertisement" glued between two sentences: the phrase
# and the spaces around it go when it follows a sentence end (or starts the line) and
# a sentence start follows. The regex starts with the phrase, so it scans fast; the
# check before it is in ``_drop_inline_boilerplate``.
_INLINE_BOILERPLATE = re.compile(
    r"(?:Advertisement|ADVERTISEMENT|Scroll down for videos?|Scroll down for more)\s+"
    r"(?=[A-Z\"“‘'(])"
)
_SENTENCE_END = frozenset('.!?"”’)')

# Datelines at the very start: "WASHINGTON (Reuters) — ", "LONDON, March 3 (AP) - ",
# "(CNN) -- ", "(CNN)" glued to the first word, "NEW YORK — ".
_DATELINE = re.compile(
    r"""^\s*(?:
        (?:[A-Z][A-Z.'’\-]+(?:\s+[A-Z][A-Z.'’\-]+){0,3}        # PLACE in capitals
           (?:,\s*[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z.]+)?)?     # , State / , Month
           (?:\s+\d{1,2})?\s*                                  # day
           (?:\((?:[A-Z][\w.&'’ ]{0,40})\)\s*)?                # (Agency)
           (?:—|–|--|-|:)\s+)
      | (?:\((?:[A-Z][\w.&'’ ]{0,40})\)\s*(?:—|–|--|-)?\s*)     # (CNN) --
    )""",
    re.VERBOSE,
)

# sentencex never splits after these; in news they often end a sentence. "May" is
# never abbreviated; the others end one when a typical sentence start follows.
_STARTERS = frozenset(
    {"The", "He", "She", "It", "They", "We", "But", "In", "This", "That", "Its", "His", "Her"}
    | {"Their", "There", "However", "Meanwhile"}
)
_MISSED_SPLIT = re.compile(r"\b(May|Inc|Corp|Co|Ltd|Jr|Sr|etc)\.\s+(?=([A-Z\"“]\w*))")
# Every "May. " or "Inc. " that _MISSED_SPLIT can match, found by scanning for the
# literal "." (fast in re) and looking behind, instead of eight substring scans.
_ABBR_SPACE = re.compile(
    r"\.\s(?:(?<=May\.\s)|(?<=Inc\.\s)|(?<=Corp\.\s)|(?<=Co\.\s)|(?<=Ltd\.\s)"
    r"|(?<=Jr\.\s)|(?<=Sr\.\s)|(?<=etc\.\s))"
)
_HAS_WORD = re.compile(r"[^\W\d_]{2,}")


def _is_boilerplate(line: str) -> bool:
    """``_BOILERPLATE_LINE.match(line)``, skipping the regex when the start rules it out."""
    head = line[:3]
    if head not in _BOILERPLATE_HEADS and head.isascii():
        return False
    return _BOILERPLATE_LINE.match(line) is not None


def strip_dateline(text: str) -> str:
    """Drop a wire-style dateline from the start of ``text``; other text is unchanged."""
    match = _DATELINE.match(text)
    if match is None:
        return text
    rest = text[match.end() :]
    # Only a dateline when real text follows, starting like a sentence.
    if len(rest) < 20 or not (rest[0].isupper() or rest[0] in "\"“‘'"):
        return text
    return rest


def _collapse_spaces(line: str) -> str:
    """``" ".join(line.split())``, cheaper for the usual line.

    Every whitespace character but " " is unprintable, so a printable line only
    needs its runs of spaces halved (C-speed ``replace``) and a strip, instead of
    being cut into hundreds of words and joined again. ``line`` comes from
    ``str.splitlines``, so the only other ASCII whitespace it can hold is a tab or
    "\x1f", and an ASCII line skips the slower ``isprintable`` scan.
    """
    if line.isascii():
        if "\t" in line or "\x1f" in line:
            return " ".join(line.split())
    elif not line.isprintable():
        return " ".join(line.split())
    # One scan for a line without "  " (not a test, then a replace).
    shorter = line.replace("  ", " ")
    while len(shorter) < len(line):
        line, shorter = shorter, shorter.replace("  ", " ")
    return line.strip()


# What every _INLINE_BOILERPLATE match starts with: str.find locates them faster than
# the regex scans a long line for its two possible first letters.
_INLINE_HEADS = ("Advertisement", "ADVERTISEMENT", "Scroll down for ")


def _inline_boilerplate(line: str) -> list[re.Match[str]]:
    """``list(_INLINE_BOILERPLATE.finditer(line))``: the regex tried only where a
    phrase starts (matches cannot overlap: each is a phrase and the spaces after it)."""
    starts: list[int] = []
    for head in _INLINE_HEADS:
        at = line.find(head)
        while at >= 0:
            starts.append(at)
            at = line.find(head, at + 1)
    found = []
    for at in sorted(starts):
        match = _INLINE_BOILERPLATE.match(line, at)
        if match is not None:
            found.append(match)
    return found


def _drop_inline_boilerplate(line: str) -> str:
    """``line`` without "Advertisement"-like phrases glued between two sentences."""
    out: list[str] = []
    last = 0
    for match in _inline_boilerplate(line):
        start = match.start()
        while start > last and line[start - 1].isspace():
            start -= 1
        if start == 0 or line[start - 1] in _SENTENCE_END:
            out.append(line[last:start])
            out.append(" ")
            last = match.end()
    if not out:
        return line
    out.append(line[last:])
    return "".join(out).strip()


def _paragraphs(text: str) -> Iterator[str]:
    """``clean_text``, one paragraph at a time (callers may stop early)."""
    first = True
    for raw in text.replace("\u200b", "").replace("\xa0", " ").splitlines():
        line = _collapse_spaces(raw)
        if not line or _is_boilerplate(line) or _BYLINE.match(line):
            continue
        if "dvertisement" in line or "ADVERTISEMENT" in line or "croll down" in line:
            line = _drop_inline_boilerplate(line)
        if first:
            line = strip_dateline(line)
        if line:
            first = False
            yield line


def clean_text(text: str) -> list[str]:
    """Split ``text`` into paragraphs without boilerplate, bylines or the dateline."""
    return list(_paragraphs(text))


def _starts_lower(piece: str) -> bool:
    """True when a piece starts with a lower-case letter (after opening punctuation)."""
    for char in piece:
        if char.isalpha():
            return char.islower()
        if char.isdigit():
            return False
        if char not in "\"“”‘’'([—–- ":
            return False
    return False


def _has_abbreviation(text: str) -> bool:
    """Whether ``text`` may hold a split ``_MISSED_SPLIT`` looks for (a quick filter;
    clean text has no whitespace but " ", and most sentences no ". " inside)."""
    return ". " in text and _ABBR_SPACE.search(text) is not None


def _resplit(piece: str) -> list[str]:
    """Split where sentencex kept "in May. Shares" or "Apple Inc. The firm" together."""
    if not _has_abbreviation(piece):
        return [piece]
    out: list[str] = []
    start = 0
    for match in _MISSED_SPLIT.finditer(piece):
        if match.group(1) == "May" or match.group(2) in _STARTERS:
            out.append(piece[start : match.end(1) + 1])
            start = match.end()
    out.append(piece[start:])
    return out


# The lead splitter (``_news_pieces``, see the module doc). A break is a full stop, "?"
# or "!", closing quotes or brackets, then a space (or a capital letter: captions glued
# to the text, "a court has heard.Shocking details").
# It runs on a copy of the paragraph where "!" and "?" are "." (same offsets): re
# finds a pattern that starts with one literal character by a fast scan, and one that
# starts with a character class by testing the class at every position (5x the cost).
_BREAK = re.compile(r"\.[\"'”’)\]]*(?: |(?=[A-Z]))")
# Words that end with "." without ending a sentence (any single letter but "I" too:
# initials, "U.S."). "May", "Inc." and the like are here because sentencex does not
# split after them either; ``_resplit`` then splits where news does.
_ABBREVIATION_TEXT = """mr mrs ms dr prof rev hon sen rep gov gen lt col maj capt cmdr
    adm sgt cpl pvt pte supt insp det st jr sr jan feb mar apr jun jul aug sep sept oct
    nov dec mon tue tues wed thu thur thurs fri sat sun inc corp co ltd ave blvd rd mt ft
    vs etc approx no nos vol pp fig est dept univ may ala ariz ark calif colo conn fla kan
    ky minn mich mont neb nev okla tenn wis wyo"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_TEXT.split())
# The last two letters of every abbreviation, in every case ("Mr", "MR", "mR").
_ABBREVIATION_TAILS = frozenset(
    a + b
    for word in _ABBREVIATIONS
    for a in (word[-2], word[-2].upper())
    for b in (word[-1], word[-1].upper())
)
_CLOSERS = {'"': '"', "“": "”", "‘": "’", "«": "»", "(": ")", "[": "]"}
# A "'" opens after a non-word and before a word character, and closes before a
# non-word character ("'" first, so that re scans for it at C speed).
_SINGLE_OPENER = re.compile(r"'(?<!\w')(?=\w)")
_SINGLE_CLOSER = re.compile(r"'(?!\w)")


class _Spans:
    """Quote (or bracket) spans of a paragraph, paired left to right as sentencex's
    regex pairs them, found only as far as a caller asks (``holds``).

    An opener pairs with the next closer; one without a closer opens nothing. A "'"
    opens only after a non-word and before a word character, and closes only before
    a non-word character, so "don't" and "dogs' home" neither open nor close.
    """

    __slots__ = ("end", "kinds", "next_at", "next_open", "start", "text")

    def __init__(self, text: str, kinds: str) -> None:
        self.text = text
        # Only the kinds the paragraph holds (a C-speed scan each): most hold one or two.
        self.kinds = kinds = "".join([kind for kind in kinds if kind in text])
        self.next_at = dict.fromkeys(kinds, -2)  # the next opener of each kind; -1: none
        self.start = self.end = 0  # the last span found
        self.next_open = self._next_opener(0)

    def _find(self, opener: str, at: int) -> int:
        if opener == "'":
            match = _SINGLE_OPENER.search(self.text, at)
            return match.start() if match else -1
        return self.text.find(opener, at)

    def _next_opener(self, at: int) -> int:
        """The first opener at or after ``at`` (-1: none); each kind is searched once
        per occurrence, not once per call."""
        best = -1
        for opener in self.kinds:
            found = self.next_at[opener]
            if found != -1 and found < at:
                found = self.next_at[opener] = self._find(opener, at)
            if found >= 0 and (best < 0 or found < best):
                best = found
        return best

    def _closer(self, opener: int) -> int:
        text = self.text
        if text[opener] != "'":
            return text.find(_CLOSERS[text[opener]], opener + 1)
        match = _SINGLE_CLOSER.search(text, opener + 1)
        return match.start() if match else -1

    def holds(self, stop: int, end: int) -> bool:
        """Whether a span holds the stop at ``stop`` and goes on past ``end`` (with
        ``end`` 0: whether a span holds it at all)."""
        return self._holding(stop) >= max(end, 0)

    def _holding(self, at: int) -> int:
        """The end of the span with start < ``at`` < end, else -1 (``at`` only grows)."""
        while self.end <= at:
            opener = self.next_open
            if opener < 0 or opener >= at:
                return -1
            close = self._closer(opener)
            if close >= 0:
                self.start, self.end = opener, close + 1
            self.next_open = self._next_opener(close + 1 if close >= 0 else opener + 1)
        return self.end if self.start < at else -1


def _news_pieces(paragraph: str) -> Iterator[tuple[str, bool]]:
    """The pieces sentencex would cut ``paragraph`` into, lazily (see the module doc),
    each with whether it may hold a ". " (inside: a stop this did not break at).

    No break inside a quote or bracket span unless the span closes right after the
    stop, nor after an abbreviation. Where sentencex looks at the whole paragraph,
    this only counts: with an odd number of "'" (or '"') one of them is a stray, and
    their span does not hold back a break before a typical sentence start.
    """
    quotes = _Spans(paragraph, "\"“‘«'")
    brackets = _Spans(paragraph, "([")
    start = 0
    dotted = False  # every ". " is a stop: one not broken at stays inside the piece
    stops = paragraph
    if "!" in stops or "?" in stops:
        stops = stops.replace("!", ".").replace("?", ".")
    for match in _BREAK.finditer(stops):
        stop, end = match.span()
        # Most stops have no span around them and no opener before them: the checks
        # before each call skip it then.
        if (
            (stop < quotes.end or 0 <= quotes.next_open < stop)
            and quotes.holds(stop, end)
            and not (_strong(paragraph, stop, end) and _stray(paragraph, quotes.start))
        ):
            dotted = dotted or paragraph[stop : stop + 2] == ". "
            continue
        if (stop < brackets.end or 0 <= brackets.next_open < stop) and brackets.holds(stop, 0):
            dotted = dotted or paragraph[stop : stop + 2] == ". "
            continue  # sentencex never breaks inside brackets
        # An abbreviation is one letter or ends with one of a few letter pairs, and
        # none is longer than 6 letters: most words before a stop are neither.
        if (
            paragraph[stop] == "."
            and end - stop <= 2
            and (
                stop < 2
                or paragraph[stop - 2] in " ."
                or paragraph[stop - 2 : stop] in _ABBREVIATION_TAILS
            )
            and not (stop >= 7 and paragraph[stop - 7 : stop].isalpha())
            and _abbreviated(paragraph, stop, end)
        ):
            dotted = dotted or paragraph[stop : stop + 2] == ". "
            continue
        if paragraph[end : end + 2] in ("' ", '" '):  # a stray quote ends the sentence
            dotted = dotted or paragraph[stop : stop + 2] == ". "
            end += 2
        yield paragraph[start:end], dotted
        start = end
        dotted = False
    if start < len(paragraph):
        yield paragraph[start:], dotted


def _abbreviated(paragraph: str, stop: int, end: int) -> bool:
    """Whether the word before the "." at ``stop`` is an abbreviation or an initial
    (not "D.C." or "U.S." before a typical sentence start)."""
    _, dot, word = paragraph[paragraph.rfind(" ", 0, stop) + 1 : stop].rpartition(".")
    if len(word) != 1:
        return word.lower() in _ABBREVIATIONS
    return word.isalpha() and word != "I" and not (dot and _starts_sentence(paragraph, end))


def _starts_sentence(paragraph: str, at: int) -> bool:
    """Whether the word at ``at`` is one of ``_STARTERS``."""
    word_end = paragraph.find(" ", at)
    return paragraph[at : word_end if word_end >= 0 else None] in _STARTERS


def _stray(paragraph: str, opener: int) -> bool:
    """Whether the quote mark at ``opener`` appears an odd number of times (a stray)."""
    quote = paragraph[opener]
    return quote in "'\"" and paragraph.count(quote) % 2 == 1


def _strong(paragraph: str, stop: int, end: int) -> bool:
    """A plain "." then a typical sentence start: a break even inside a stray quote."""
    return end - stop == 2 and paragraph[stop] == "." and _starts_sentence(paragraph, end)


def _paragraph_sentences(paragraph: str, lead: bool = False, wanted: int = 0) -> Iterator[str]:
    """The sentences of one clean paragraph, lazily: the fixes run only on the pieces
    a caller takes. sentencex splits the whole paragraph at once; with ``lead``,
    ``_news_pieces`` splits only as far as the caller reads, it stops after ``wanted``
    sentences (0: all), and the last of them comes without splitting off the piece
    after it when ``_settled``."""
    held = ""  # the last sentence: a lower-case piece may still join it
    prefix = ""  # a wordless piece ("1.", "•") belongs to the sentence after it
    given = 0  # sentences yielded
    at = 0  # where the next piece starts (news pieces are consecutive slices)
    if lead:
        pieces = _news_pieces(paragraph)
    else:  # whether a piece holds a ". " is left to ``_resplit``
        pieces = ((piece, True) for piece in segment("en", paragraph))
    for raw, dotted in pieces:
        at += len(raw)
        raw = raw.strip()
        if not raw:
            continue
        # Most pieces hold no ". ": skip the call that would re-split them (its pieces
        # are stripped and never empty).
        for piece in _resplit(raw) if dotted else (raw,):
            if not ((len(piece) > 1 and piece[:2].isalpha()) or _HAS_WORD.search(piece)):
                prefix = f"{prefix} {piece}".strip()
                continue
            # A "sentence" starting in lower case continues the previous one
            # ('"We will win." he said', 'the U.S. economy'); most start with A-Z.
            head = piece[0]
            if (
                held
                and not prefix
                and ("a" <= head <= "z" or (not "A" <= head <= "Z" and _starts_lower(piece)))
            ):
                held = f"{held} {piece}"
                continue
            # Every sentence has a word; a sentence may still be boilerplate.
            if held and not _is_boilerplate(held):
                yield held
                given += 1
                if given == wanted:
                    return
            held = f"{prefix} {piece}" if prefix else piece
            prefix = ""
        if given == wanted - 1 and held and _settled(paragraph, at, held, prefix):
            yield held
            return
    if held:
        if prefix:
            held = f"{held} {prefix}"
        if not _is_boilerplate(held):
            yield held


# The first character after any opening punctuation (what ``_starts_lower`` reads).
_OPENING = re.compile("[\"“”‘’'(\\[—–\\- ]*(.)")


def _settled(paragraph: str, at: int, held: str, prefix: str) -> bool:
    """Whether ``held`` is a sentence already when the paragraph's next piece starts
    at ``at``: it is no boilerplate, a word follows (a paragraph's trailing wordless
    pieces join its last sentence), and that piece cannot join it (wordless pieces
    came between, or it starts with no lower-case letter: ``_starts_lower`` stops at
    the first letter, which a piece with a word holds)."""
    if _is_boilerplate(held) or _HAS_WORD.search(paragraph, at) is None:
        return False
    if prefix:
        return True
    first = _OPENING.match(paragraph, at)
    return first is None or not (first.group(1).isalpha() and first.group(1).islower())


@lru_cache(maxsize=4096)
def _split_paragraph(paragraph: str) -> tuple[str, ...]:
    """The sentences of one clean paragraph (cached: feeds repeat paragraphs)."""
    return tuple(_paragraph_sentences(paragraph))


def split_sentences(text: str) -> list[str]:
    """Sentences of a news text, in order, with boilerplate and dateline removed.

    Each sentence is stripped and has its internal whitespace collapsed; pieces
    without a word (list numbers, stray punctuation) join the next sentence.
    """
    paragraphs = clean_text(text)
    if len(paragraphs) == 1:  # most feed and CNN/DM texts: one paragraph
        return list(_split_paragraph(paragraphs[0]))
    return [s for paragraph in paragraphs for s in _split_paragraph(paragraph)]


def lead_sentences(text: str, limit: int) -> list[str]:
    """The first ``limit`` sentences of ``text``, for callers that only read an
    article's opening (the summariser).

    Split by ``_news_pieces``, not sentencex, with the same cleaning and fixes as
    ``split_sentences``: nearly always ``split_sentences(text)[:limit]`` (see the module
    doc). Later paragraphs are never cleaned, and the last paragraph read is only split
    as far as the sentences wanted.
    """
    lead: list[str] = []
    for paragraph in _paragraphs(text):
        if len(lead) >= limit:
            break
        lead += _paragraph_sentences(paragraph, lead=True, wanted=limit - len(lead))
    return lead
