"""The default summariser: extractive, offline, deterministic and fast.

LEAD-3 is a strong baseline on news and plain centrality (TextRank, LexRank) scores
below it, so position is a signal here, not the whole method. Each sentence scores

    position prior + PacSum-style directed centrality + similarity to the title

on TF-IDF vectors of the article's own sentences. Centrality is directed as in
PacSum (Zheng & Lapata 2019): similarity to *later* sentences counts, because a lead
sentence is what the rest of the article elaborates; the tuned weight of similarity
to earlier sentences came out at 0 (PacSum makes it negative). Sentences are then picked
greedily with a redundancy cut (MMR-like) inside a character budget and returned in
article order. Only the article's first ``ScoringWeights.window`` (10) sentences are
read: the position prior all but rules out later ones (exp(-0.35·10) ≈ 0.03), and
reading 10 instead of all changed ROUGE-1 by +0.06 on CNN/DM dev, -0.16 on BBC and
+0.32 on XSum while cutting the time per article by about a quarter.

Speed (the pipeline calls ``summarize`` once per article): later paragraphs are
never cleaned, and the lead is split by ``lead_sentences``'s own lazy splitter only as
far as the window (sentencex, which ``split_sentences`` uses, pairs quotes over the
whole paragraph first); the lead is tokenised once (bytes.translate + split, memoised
word ids), TF-IDF counts come from one ``bincount``, and one matrix product gives every
sentence-sentence and sentence-title similarity; no Python loop runs per token. On ten
sentences numpy's per-call overhead, not arithmetic, is the cost, so
``_article_cosines`` makes as few calls as it can and scoring and picking read one
``tolist()`` of its result. Per CNN/DM article (warm, one process, about 200 us in
all): cleaning the first paragraph ~22 us, splitting and fixing the lead ~40, tokens and
word ids ~38 (a dict lookup per word), counts, TF-IDF and cosines ~40, scoring and picking
~10. ``bench/summarize.py`` measures it against sumy's LexRank.

The weights were tuned once by a small grid search on ``cnndm_dev.jsonl`` (ROUGE-1,
see ``bench/summarize.py``) and then only checked on BBC News Summary and XSum;
nothing depends on the input file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, count

import numpy as np

from bot.text.sentences import lead_sentences

__all__ = [
    "STOPWORDS",
    "ExtractiveSummarizer",
    "ScoringWeights",
    "content_tokens",
    "shorten",
    "tfidf_rows",
]

logger = logging.getLogger(__name__)

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
# them is lower-cased by str.lower first, as before.
_KEEP = b"0123456789abcdefghijklmnopqrstuvwxyz"
_WORD_BYTES = bytes(c if c in _KEEP else c + 32 if 65 <= c <= 90 else 32 for c in range(256))
# The same, but "\n" becomes "|", a one-byte word that marks a sentence end.
_MARKED_BYTES = _WORD_BYTES[:10] + b"|" + _WORD_BYTES[11:]
_CACHE_LIMIT = 100_000  # distinct raw words remembered before a cache starts over


class _Canon(dict[bytes, str]):
    """Raw word -> content token ("" for stop words and 1-letter words), memoised.

    Tokens fold plurals lightly ("cars" -> "car"). The values never depend on what
    was seen before, so the cache cannot change results.
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


class _WordIds(dict[bytes, int]):
    """Raw word -> id of its content token (0: none; -1: the sentence mark "|").

    The id is a 63-bit BLAKE2 hash of the token, so it never depends on what came
    before, and ``_article_tfidf``'s columns (ordered by id) are the same in every
    process; two tokens of one article sharing a hash is a ~1e-14 chance.
    """

    def __missing__(self, raw: bytes) -> int:
        tok = _CANON[raw]
        ident = 0
        if tok:
            digest = hashlib.blake2b(tok.encode("ascii"), digest_size=8).digest()
            ident = int.from_bytes(digest, "little") >> 1 or 1
        if len(self) >= _CACHE_LIMIT:
            self.clear()
            self[b"|"] = -1
        self[raw] = ident
        return ident


_CANON = _Canon()
_WORD_IDS = _WordIds({b"|": -1})


def _words(text: str, table: bytes = _WORD_BYTES) -> bytes:
    """``text`` as lower-case ASCII bytes where only word characters remain."""
    if not text.isascii() and ("\u0130" in text or "\u212a" in text):
        text = text.lower()
    return text.encode("utf-8", "replace").translate(table)


def content_tokens(text: str) -> list[str]:
    """Lower-case word tokens without stop words, with a light plural/possessive fold."""
    return list(filter(None, map(_CANON.__getitem__, _words(text).split())))


def _article_tfidf(sentences: Sequence[str], title: str) -> tuple[np.ndarray, np.ndarray]:
    """``_tfidf`` of the sentences' and title's content tokens, tokenising once.

    The joined text goes through one translate/split; every word becomes an id at C
    speed, and the (sentence, column) counts come from numpy, not Python loops.
    Columns are in id order, not first-seen order, and words only the title has are
    all-zero columns (``tfidf_rows`` has none): the same vectors up to zero columns and
    a column permutation, so similarities agree with ``tfidf_rows`` to rounding.
    """
    n = len(sentences)
    joined = " \n ".join(sentences)
    if joined.count("\n") != n - 1:  # a sentence holds a line break: the slow way
        return _tfidf([content_tokens(s) for s in sentences], content_tokens(title))
    # The title is row n; "\n" in it would start another row.
    text = f"{joined} \n {title.replace(chr(10), ' ')}"
    raw = _words(text, _MARKED_BYTES).split()
    ids = np.fromiter(map(_WORD_IDS.__getitem__, raw), np.int64, len(raw))
    rows = np.cumsum(ids < 0)  # the sentence of each word; row n is the title
    # np.unique(ids, return_inverse=True), minus its Python overhead: columns in id
    # order. The n sentence marks (-1) make column 0, stop words (0) the next one.
    order = np.argsort(ids)
    ordered = ids[order]
    new = np.empty(len(ids), dtype=np.intp)
    new[0] = 0
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    cols = np.empty(len(ids), dtype=np.intp)
    cols[order] = np.cumsum(new)
    size = int(cols[order[-1]]) + 1
    skip = 2 if len(ids) > n and ordered[n] == 0 else 1
    if size == skip:  # no content word at all
        return _weigh(np.zeros((n + 1, 1), dtype=np.intp), len(raw))
    counts = np.bincount(rows * size + cols, minlength=(n + 1) * size).reshape(n + 1, size)
    return _weigh(counts[:, skip:], len(raw))


def _article_cosines(sentences: Sequence[str], title: str) -> np.ndarray:
    """Cosines of ``_article_tfidf``'s rows, (n + 1)², diagonal 0: the last row is the title.

    The same tokenising and counting as ``_article_tfidf`` in fewer numpy calls (on ten
    sentences each call's overhead, not its arithmetic, is the cost): columns are
    numbered in sorted-id order without mapping back to word order, the product is
    taken on unnormalised rows, and the (n + 1)² result is normalised instead of the
    (n + 1) × vocabulary matrix.
    """
    n = len(sentences)
    joined = " \n ".join(sentences)
    if joined.count("\n") != n - 1:  # a sentence holds a line break: the slow way
        matrix = _article_tfidf(sentences, title)[0]
        gram: np.ndarray = matrix @ matrix.T
        gram.flat[:: n + 2] = 0.0
        return gram
    raw = _words(f"{joined} \n {title.replace(chr(10), ' ')}", _MARKED_BYTES).split()
    ids = np.fromiter(map(_WORD_IDS.__getitem__, raw), np.int64, len(raw))
    order = np.argsort(ids)
    ordered = ids[order]
    # ordered[0] is a sentence mark (n >= 1 of them, id -1): it and the other marks
    # make column 0, stop words (0) column 1 when there are any; both are dropped.
    if len(ids) <= n:  # no word at all
        return np.zeros((n + 1, n + 1))
    cols = np.cumsum(ordered[1:] != ordered[:-1])
    size = int(cols[-1]) + 1
    skip = 2 if ordered[n] == 0 else 1
    if size == skip:  # no content word
        return np.zeros((n + 1, n + 1))
    rows = np.cumsum(ids < 0)[order[1:]]  # the sentence of each word; row n: the title
    counts = np.bincount(rows * size + cols, minlength=(n + 1) * size).reshape(n + 1, size)
    counts = counts[:, skip:]
    weighted = _SUBLINEAR[counts] if len(raw) < len(_SUBLINEAR) else _sublinear(counts)
    weighted *= _smooth_idf(n)[np.add.reduce(counts[:n] > 0, axis=0)]
    gram = weighted @ weighted.T
    # Norms are 0 or >= 1 (every weight is 0 or >= 1): max(norm_i·norm_j, 1) divides
    # the non-zero cells by the product of norms and leaves zero rows at zero.
    norms = np.sqrt(gram.diagonal())
    gram /= np.maximum(np.multiply.outer(norms, norms), 1.0)
    gram.flat[:: n + 2] = 0.0
    return gram


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How much each signal counts, and how many lead sentences are read (``window``).

    The defaults are the tuned ones; see the module doc.
    """

    position: float = 1.0
    position_decay: float = 0.35
    centrality: float = 0.3
    backward: float = 0.0
    edge_floor: float = 0.1
    title: float = 0.3
    redundancy: float = 0.6
    min_words: int = 6
    max_words: int = 60
    window: int = 10


class ExtractiveSummarizer:
    """Summarises one article into 1–``max_sentences`` of its own sentences.

    Satisfies ``bot.core.ports.Summarizer``. Deterministic: the same (title, text)
    always gives the same summary. Sentences keep their article order and the
    summary never exceeds ``max_chars`` (when no sentence fits, the first one is cut
    at a word boundary and ends with an ellipsis).
    """

    def __init__(
        self,
        max_sentences: int = 3,
        max_chars: int = 600,
        weights: ScoringWeights | None = None,
    ) -> None:
        if max_sentences < 1 or max_chars < 20:
            raise ValueError("summarize: need max_sentences >= 1 and max_chars >= 20")
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.weights = weights or ScoringWeights()

    def summarize(self, title: str, text: str) -> str:
        """Return the summary text (sentences joined by one space); '' for no text."""
        sentences = lead_sentences(text, self.weights.window)
        if not sentences:
            return ""
        # The splitter collapses whitespace, so words are spaces + 1.
        picked = self._select(title, sentences, [s.count(" ") + 1 for s in sentences])
        if not picked:  # no sentence fits the budget: cut the lead at a word boundary
            return shorten(sentences[0], self.max_chars)
        return " ".join([sentences[i] for i in picked])

    def summarize_many(self, items: Sequence[tuple[str, str]]) -> list[str]:
        """Summaries of several (title, text) pairs, in order (each on its own)."""
        return [self.summarize(title, text) for title, text in items]

    def select(self, title: str, sentences: Sequence[str]) -> list[int]:
        """Indices of the chosen sentences, ascending, within the budgets.

        Like ``summarize``, only the first ``weights.window`` sentences are candidates.
        """
        lead = sentences[: self.weights.window]
        return self._select(title, lead, [len(s.split()) for s in lead])

    def score(self, title: str, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-sentence scores and the sentence cosine-similarity matrix (all sentences)."""
        if not sentences:
            return np.zeros(0), np.zeros((0, 0))
        scores, gram = self._score(title, sentences, [len(s.split()) for s in sentences])
        n = len(sentences)
        return np.asarray(scores), np.asarray(gram)[:n, :n]

    def _select(self, title: str, sentences: Sequence[str], words: list[int]) -> list[int]:
        lengths = [len(s) for s in sentences]
        if len(sentences) <= 1:
            return [0] if lengths and lengths[0] <= self.max_chars else []
        scores, gram = self._score(title, sentences, words)
        return self._pick(scores, gram, lengths)

    def _score(
        self, title: str, sentences: Sequence[str], words: list[int]
    ) -> tuple[list[float], list[list[float]]]:
        """Scores, and ``_article_cosines`` as lists (row and column n: the title).

        On n <= window (10) sentences numpy's per-call overhead, not arithmetic, is the
        cost, so everything after the cosines works on one ``tolist()`` of them.
        """
        w = self.weights
        n = len(sentences)
        # Every cosine at once: sentence-sentence, and sentence-title in row n.
        gram: list[list[float]] = _article_cosines(sentences, title).tolist()
        rows = gram[:n]
        # PacSum: keep edges above a floor between min and max, then weigh edges to
        # later sentences (forward) for and edges to earlier ones (backward) against.
        # Similarities are >= 0 and the diagonal is 0, so the minimum is 0.
        floor = w.edge_floor * max([max(row[:n]) for row in rows])
        central = [
            sum([v - floor for v in row[i + 1 : n] if v > floor]) for i, row in enumerate(rows)
        ]
        if w.backward:
            central = [
                c + w.backward * sum([v - floor for v in row[:i] if v > floor])
                for i, (c, row) in enumerate(zip(central, rows, strict=True))
            ]
        low = min(central)
        spread = max(central) - low
        scale = w.centrality / spread if spread > 0 else 0.0
        # Fragments and run-on captions make poor summaries.
        short, long = w.min_words, w.max_words
        scores = [
            t * w.title + p + (c - low) * scale - (0.5 if k < short else 0.3 if k > long else 0.0)
            for t, p, c, k in zip(
                gram[n][:n],
                _prior(w.position, w.position_decay, n),
                central,
                words,
                strict=True,
            )
        ]
        return scores, gram

    def _pick(
        self, scores: list[float], sims: list[list[float]], lengths: Sequence[int]
    ) -> list[int]:
        chosen: list[int] = []
        used = 0
        # Best first; ties keep article order (sorted() is stable, also in reverse).
        for i in sorted(range(len(lengths)), key=scores.__getitem__, reverse=True):
            if len(chosen) >= self.max_sentences:
                break
            cost = lengths[i] + (1 if chosen else 0)
            if used + cost > self.max_chars:
                continue
            row = sims[i]
            if chosen and max([row[j] for j in chosen]) > self.weights.redundancy:
                continue
            chosen.append(i)
            used += cost
        if not chosen:
            logger.debug("summarize: no sentence fits %d chars", self.max_chars)
        return sorted(chosen)


@lru_cache(maxsize=256)
def _prior(weight: float, rate: float, n: int) -> tuple[float, ...]:
    """The position prior weight·exp(-rate·i) for i < n."""
    return tuple((weight * np.exp(-rate * np.arange(n, dtype=np.float64))).tolist())


def shorten(sentence: str, limit: int) -> str:
    """``sentence`` cut to at most ``limit`` characters at a word boundary, plus "…"."""
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-—–")
    return f"{cut}…"


def tfidf_rows(docs: Sequence[Sequence[str]], title: Sequence[str] = ()) -> np.ndarray:
    """L2-normalised TF-IDF rows for ``docs`` plus a last row for ``title``.

    IDF comes from the article's own sentences, so the summary of an article never
    depends on what else was summarised.
    """
    return _tfidf(docs, title)[0]


# 1 + ln(tf) for term counts 0..4095 (0 for an absent term), looked up, not computed.
_SUBLINEAR = np.concatenate(([0.0], 1.0 + np.log(np.arange(1, 4096, dtype=np.float64))))


def _tfidf(docs: Sequence[Sequence[str]], title: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``tfidf_rows`` and each column's document frequency; columns in first-seen order.

    The vocabulary is a dict built by C-level iteration and the counts come from one
    ``bincount`` over (row, column) cells instead of a Python loop over tokens.
    """
    n = len(docs)
    flat = list(chain.from_iterable(docs))
    vocab = dict(zip(dict.fromkeys(flat), count()))
    size = max(len(vocab), 1)
    cols = np.fromiter(map(vocab.__getitem__, flat), dtype=np.intp, count=len(flat))
    starts = np.repeat(np.arange(0, n * size, size), [len(doc) for doc in docs])
    title_cols = [vocab[tok] for tok in title if tok in vocab]
    cells = np.concatenate((cols + starts, np.asarray(title_cols, dtype=np.intp) + n * size))
    counts = np.bincount(cells, minlength=(n + 1) * size).reshape(n + 1, size)
    return _weigh(counts, len(cells))


def _sublinear(counts: np.ndarray) -> np.ndarray:
    """1 + ln(tf), 0 for tf = 0, computed (for a word repeated 4096+ times)."""
    weights: np.ndarray = (1.0 + np.log(np.maximum(counts, 1))) * (counts > 0)
    return weights


@lru_cache(maxsize=256)
def _smooth_idf(n: int) -> np.ndarray:
    """ln((n + 1) / (df + 1)) + 1 for df = 1..n, and 0 for df = 0 (read-only, shared).

    Only a word no sentence has (one only the title has) has df = 0: it weighs 0.
    """
    idf = np.log((n + 1) / (np.arange(n + 1) + 1)) + 1.0
    idf[0] = 0.0
    idf.flags.writeable = False
    return idf


def _weigh(counts: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows of sublinear TF × smoothed IDF, and each column's document frequency.

    ``counts`` holds term counts, the last row the title's; ``most`` bounds them all.
    """
    n = counts.shape[0] - 1
    df = np.add.reduce(counts[:n] > 0, axis=0)
    weighted = _SUBLINEAR[counts] if most < len(_SUBLINEAR) else _sublinear(counts)
    weighted *= _smooth_idf(n)[df]
    # Every weight is 0 or >= 1 (tf >= 1, idf >= 1), so a row's norm is 0 or >= 1:
    # dividing by max(norm, 1) normalises the one and leaves the other at 0.
    norms = np.sqrt(np.einsum("ij,ij->i", weighted, weighted))
    weighted /= np.maximum(norms, 1.0)[:, None]
    return weighted, df
