"""The default summariser: extractive, offline, deterministic and fast.

LEAD-3 is a strong baseline on news and plain centrality (TextRank, LexRank) scores
below it, so position is a signal here, not the whole method. Each sentence scores

    position prior + PacSum-style directed centrality + similarity to the title

on TF-IDF vectors of the article's own sentences. Centrality is directed as in
PacSum (Zheng & Lapata 2019): similarity to *later* sentences counts, because a lead
sentence is what the rest of the article elaborates; the tuned weight of similarity
to earlier sentences came out at 0 (PacSum makes it negative). Sentences are then picked
greedily with a redundancy cut (MMR-like) inside a character budget and returned in
article order. Everything is a handful of numpy operations per article.

The weights were tuned once by a small grid search on ``cnndm_dev.jsonl`` (ROUGE-1,
see ``bench/summarize.py``) and then only checked on BBC News Summary and XSum;
nothing depends on the input file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.text.sentences import split_sentences

__all__ = [
    "STOPWORDS",
    "ExtractiveSummarizer",
    "ScoringWeights",
    "content_tokens",
    "shorten",
    "tfidf_rows",
]

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+")

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


def content_tokens(text: str) -> list[str]:
    """Lower-case word tokens without stop words, with a light plural/possessive fold."""
    out: list[str] = []
    for tok in _WORD.findall(text.lower()):
        if len(tok) < 2 or tok in STOPWORDS:
            continue
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
            tok = tok[:-1]
        out.append(tok)
    return out


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How much each signal counts. The defaults are the tuned ones; see module doc."""

    position: float = 1.0
    position_decay: float = 0.35
    centrality: float = 0.3
    backward: float = 0.0
    edge_floor: float = 0.1
    title: float = 0.3
    redundancy: float = 0.6
    min_words: int = 6
    max_words: int = 60


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
        sentences = split_sentences(text)
        if not sentences:
            return ""
        picked = self.select(title, sentences)
        if not picked:  # no sentence fits the budget: cut the lead at a word boundary
            return shorten(sentences[0], self.max_chars)
        return " ".join(sentences[i] for i in picked)

    def summarize_many(self, items: Sequence[tuple[str, str]]) -> list[str]:
        """Summaries of several (title, text) pairs, in order."""
        return [self.summarize(title, text) for title, text in items]

    def select(self, title: str, sentences: Sequence[str]) -> list[int]:
        """Indices of the chosen sentences, ascending, within the budgets."""
        if len(sentences) == 1:
            return [0] if len(sentences[0]) <= self.max_chars else []
        scores, sims = self.score(title, sentences)
        return self._pick(scores, sims, [len(s) for s in sentences])

    def score(self, title: str, sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-sentence scores and the sentence cosine-similarity matrix."""
        w = self.weights
        toks = [content_tokens(s) for s in sentences]
        matrix = tfidf_rows(toks, content_tokens(title))
        n = len(sentences)
        vecs, title_vec = matrix[:n], matrix[n]
        # einsum, not BLAS: for a few dozen rows, OpenBLAS's thread start-up costs
        # more than the product itself.
        sims = np.einsum("ik,jk->ij", vecs, vecs)
        np.fill_diagonal(sims, 0.0)
        # PacSum: keep edges above a floor between min and max, then weigh edges to
        # later sentences (forward) for and edges to earlier ones (backward) against.
        lo, hi = float(sims.min()), float(sims.max())
        edges = np.clip(sims - (lo + w.edge_floor * (hi - lo)), 0.0, None)
        forward = np.triu(edges, 1).sum(axis=1)
        backward = np.tril(edges, -1).sum(axis=1)
        central = forward + w.backward * backward
        spread = float(central.max() - central.min())
        central = (central - central.min()) / spread if spread > 0 else np.zeros(n)
        position = np.exp(-w.position_decay * np.arange(n, dtype=np.float64))
        scores = (
            w.position * position
            + w.centrality * central
            + w.title * np.einsum("ik,k->i", vecs, title_vec)
        )
        # Fragments and run-on captions make poor summaries.
        words = np.array([len(s.split()) for s in sentences])
        scores = scores - 0.5 * (words < w.min_words) - 0.3 * (words > w.max_words)
        return scores, sims

    def _pick(self, scores: np.ndarray, sims: np.ndarray, lengths: Sequence[int]) -> list[int]:
        chosen: list[int] = []
        used = 0
        for i in np.argsort(-scores, kind="stable").tolist():
            if len(chosen) >= self.max_sentences:
                break
            cost = lengths[i] + (1 if chosen else 0)
            if used + cost > self.max_chars:
                continue
            if chosen and float(sims[i, chosen].max()) > self.weights.redundancy:
                continue
            chosen.append(i)
            used += cost
        if not chosen:
            logger.debug("summarize: no sentence fits %d chars", self.max_chars)
        return sorted(chosen)


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
    vocab: dict[str, int] = {}
    for doc in docs:
        for tok in doc:
            vocab.setdefault(tok, len(vocab))
    rows = len(docs) + 1
    counts = np.zeros((rows, max(len(vocab), 1)), dtype=np.float64)
    for r, doc in enumerate((*docs, title)):
        for tok in doc:
            col = vocab.get(tok)
            if col is not None:
                counts[r, col] += 1.0
    df = (counts[:-1] > 0).sum(axis=0)
    idf = np.log((len(docs) + 1) / (df + 1)) + 1.0
    weighted = (1.0 + np.log(np.maximum(counts, 1.0))) * (counts > 0) * idf
    norms = np.linalg.norm(weighted, axis=1, keepdims=True)
    unit: np.ndarray = weighted / np.where(norms > 0, norms, 1.0)
    return unit
