"""The word rule the summariser and the story grouper share: content tokens.

A token is a run of [a-z0-9] in the lower-cased text, at least two characters, not a
stop word, with a light plural fold ("cars" -> "car", not "boss", "bus", "basis").
``bot.text.cosines`` applies the same rule to many texts at once in numpy.
"""

from __future__ import annotations

__all__ = ["ALNUM_BYTES", "STOPWORDS", "WORD_BYTES", "content_tokens", "words"]

_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be because
    been before being below between both but by can could did do does doing down during
    each few for from further had has have having he her here hers herself him himself
    his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some
    such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves said says say told mr mrs ms
    one two new would could may might must shall us s t ll re ve d m don didn doesn
    isn wasn aren weren won wouldn couldn shouldn hasn haven hadn"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Words are the runs of [a-z0-9] in the lower-cased text. bytes.translate + split finds
# them about ten times faster than a regex: every byte but a-z and 0-9 becomes a space
# (UTF-8 multi-byte characters included), and A-Z become a-z. Only two non-ASCII
# characters lower-case to ASCII letters ("İ" and the Kelvin sign "K"); text holding
# them is lower-cased by str.lower first. ``ALNUM_BYTES`` is the same table with the
# case kept, for the story grouper (it reads capitals as names).
ALNUM_BYTES = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
WORD_BYTES = ALNUM_BYTES.lower()
_CACHE_LIMIT = 100_000  # distinct raw words remembered before the cache starts over


class _Canon(dict[bytes, str]):
    """Raw word -> content token ("" for stop words and 1-letter words), memoised.

    The values never depend on what was seen before, so the cache cannot change results.
    """

    def __missing__(self, raw: bytes) -> str:
        tok = raw.decode("ascii")
        if len(tok) < 2 or tok in STOPWORDS:
            tok = ""
        elif len(tok) > 4 and tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
            tok = tok[:-1]
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[raw] = tok
        return tok


_CANON = _Canon()


def words(text: str, table: bytes = WORD_BYTES) -> bytes:
    """``text`` as lower-case ASCII bytes where only word characters remain."""
    if not text.isascii() and ("\u0130" in text or "\u212a" in text):
        text = text.lower()
    return text.encode("utf-8", "replace").translate(table)


def content_tokens(text: str) -> list[str]:
    """Lower-case word tokens without stop words, with a light plural/possessive fold."""
    return list(filter(None, map(_CANON.__getitem__, words(text).split())))
