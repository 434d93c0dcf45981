"""One headline and one summary for a story covered by several outlets.

Facts that several outlets report are the core of the event, so a sentence scores
by its support across the *other* members (mean of its best similarity to each
other member's sentences) plus a lead-position prior within its own article. The
best sentences are taken greedily, skipping any that repeat a chosen one (cosine
or word overlap), inside the character budget. The headline is the member title
closest to the other members' titles and text: the most representative framing,
not the most partisan one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.text.sentences import split_sentences
from bot.text.summarize import content_tokens, shorten, tfidf_rows

__all__ = ["summarize_story"]

_MAX_SENTENCES_PER_MEMBER = 6
_REDUNDANT_COSINE = 0.5
_REDUNDANT_OVERLAP = 0.6
_POSITION_DECAY = 0.5


def summarize_story(
    articles: Sequence[tuple[str, str, str]], max_sentences: int = 3, max_chars: int = 600
) -> tuple[str, str]:
    """(headline, summary) for a story's members given as (source, title, summary-or-text).

    Deterministic for the same input order; ties go to the earlier member. The
    summary has at most ``max_sentences`` sentences and ``max_chars`` characters and
    never repeats a sentence (or a near-copy of one) from two outlets.
    """
    members = [(src, title.strip(), body) for src, title, body in articles if title.strip()]
    if not members:
        return "", ""
    headline = _pick_headline(members)
    pool: list[tuple[int, int, str]] = []  # (member, position, sentence)
    for m, (_, _, body) in enumerate(members):
        for pos, sentence in enumerate(split_sentences(body)[:_MAX_SENTENCES_PER_MEMBER]):
            pool.append((m, pos, sentence))
    if not pool:
        return headline, ""
    toks = [content_tokens(s) for _, _, s in pool]
    vecs = tfidf_rows(toks, content_tokens(headline))
    sent_vecs, head_vec = vecs[:-1], vecs[-1]
    sims = np.einsum("ik,jk->ij", sent_vecs, sent_vecs)
    owner = np.array([m for m, _, _ in pool])
    support = np.zeros(len(pool))
    voters = 0
    for other in range(len(members)):
        mask = owner == other
        if not mask.any():  # a member with no body text has no say
            continue
        voters += 1
        best = sims[:, mask].max(axis=1)
        support += np.where(mask, 0.0, best)
    if voters > 1:
        support /= voters - 1
    position = np.exp(-_POSITION_DECAY * np.array([p for _, p, _ in pool], dtype=np.float64))
    scores = support + position + 0.3 * np.einsum("ik,k->i", sent_vecs, head_vec)
    chosen = _pick(scores, sims, toks, [s for _, _, s in pool], max_sentences, max_chars)
    if not chosen:  # nothing fits the budget: the best sentence, cut at a word
        return headline, shorten(pool[int(np.argmax(scores))][2], max_chars)
    return headline, " ".join(pool[i][2] for i in chosen)


def _pick_headline(members: Sequence[tuple[str, str, str]]) -> str:
    if len(members) == 1:
        return members[0][1]
    docs = [content_tokens(f"{title} {title} {body[:600]}") for _, title, body in members]
    vecs = tfidf_rows(docs)[:-1]
    sims = np.einsum("ik,jk->ij", vecs, vecs)
    np.fill_diagonal(sims, 0.0)
    centrality = sims.sum(axis=1)
    # Very long or very short titles read badly in a digest.
    lengths = np.array([len(t) for _, t, _ in members])
    centrality = centrality - 0.2 * ((lengths > 120) | (lengths < 20))
    return members[int(np.argmax(centrality))][1]


def _pick(
    scores: np.ndarray,
    sims: np.ndarray,
    toks: Sequence[Sequence[str]],
    sentences: Sequence[str],
    max_sentences: int,
    max_chars: int,
) -> list[int]:
    chosen: list[int] = []
    used = 0
    for i in np.argsort(-scores, kind="stable").tolist():
        if len(chosen) >= max_sentences:
            break
        cost = len(sentences[i]) + (1 if chosen else 0)
        if used + cost > max_chars:
            continue
        words = set(toks[i])
        if any(
            sims[i, j] > _REDUNDANT_COSINE or _overlap(words, set(toks[j])) > _REDUNDANT_OVERLAP
            for j in chosen
        ):
            continue
        if sentences[i].casefold() in (sentences[j].casefold() for j in chosen):
            continue
        chosen.append(i)
        used += cost
    return chosen


def _overlap(a: set[str], b: set[str]) -> float:
    """Share of the smaller sentence's words found in the other one."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
