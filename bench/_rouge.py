"""A compact ROUGE-1/2/Lsum that follows rouge-score's conventions.

rouge-score (Google's reference implementation) is not installed here, so this
re-implements its scoring rules: lower-case, every run of characters outside
``[a-z0-9]`` is a separator, tokens longer than 3 characters are Porter-stemmed,
F1 of clipped n-gram overlaps, and rougeLsum as the summary-level union-LCS over
newline-separated sentences. The stemmer below is the original Porter (1980)
algorithm with NLTK's two best-known tweaks (``bli``→``ble``, ``logi``→``log`` and
"y"→"i" only after a consonant); rouge-score uses NLTK's variant, which differs on a
handful of rare suffixes, so figures can differ from rouge-score in the second decimal.
Validated against the data README's LEAD-3 figures (see bench/summarize.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VOWELS = frozenset("aeiou")


def _is_cons(word: str, i: int) -> bool:
    ch = word[i]
    if ch in _VOWELS:
        return False
    if ch == "y":
        return i == 0 or not _is_cons(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel→consonant transitions in ``stem``."""
    m, prev_vowel = 0, False
    for i in range(len(stem)):
        cons = _is_cons(stem, i)
        if cons and prev_vowel:
            m += 1
        prev_vowel = not cons
    return m


def _has_vowel(stem: str) -> bool:
    return any(not _is_cons(stem, i) for i in range(len(stem)))


def _double_cons(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _is_cons(word, len(word) - 1)


def _cvc(word: str) -> bool:
    if len(word) < 3:
        return False
    n = len(word)
    return (
        _is_cons(word, n - 3)
        and not _is_cons(word, n - 2)
        and _is_cons(word, n - 1)
        and word[-1] not in "wxy"
    )


_STEP2 = (
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"),
    ("izer", "ize"), ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"),
    ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"), ("ator", "ate"),
    ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous"),
    ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"), ("logi", "log"),
)  # fmt: skip
_STEP3 = (
    ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"),
    ("ful", ""), ("ness", ""),
)  # fmt: skip
_STEP4 = (
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
    "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
)  # fmt: skip


def _replace(word: str, rules: Sequence[tuple[str, str]], min_m: int) -> str:
    for suffix, repl in rules:
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem + repl if _measure(stem) > min_m else word
    return word


@lru_cache(maxsize=200_000)
def porter_stem(word: str) -> str:
    """Stem one lower-case word with the Porter algorithm."""
    if len(word) <= 2:
        return word
    # Step 1a
    if word.endswith("sses") or word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    # Step 1b
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
                word = word[: -len(suffix)]
                if word.endswith(("at", "bl", "iz")):
                    word += "e"
                elif _double_cons(word) and word[-1] not in "lsz":
                    word = word[:-1]
                elif _measure(word) == 1 and _cvc(word):
                    word += "e"
                break
    # Step 1c (NLTK: only after a consonant that is not the first letter)
    if word.endswith("y") and len(word) > 2 and _is_cons(word, len(word) - 2):
        word = word[:-1] + "i"
    word = _replace(word, _STEP2, 0)
    word = _replace(word, _STEP3, 0)
    # Step 4
    for suffix in _STEP4:
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            if _measure(stem) > 1 and (suffix != "ion" or stem.endswith(("s", "t"))):
                word = stem
            break
    # Step 5
    if word.endswith("e"):
        stem = word[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            word = stem
    if word.endswith("ll") and _measure(word) > 1:
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """rouge-score's tokeniser with stemming of tokens longer than 3 characters."""
    tokens = _NON_ALNUM.sub(" ", text.lower()).split()
    return [porter_stem(t) if len(t) > 3 else t for t in tokens]


def _f1(hits: float, n_pred: int, n_ref: int) -> float:
    if hits <= 0 or n_pred == 0 or n_ref == 0:
        return 0.0
    p, r = hits / n_pred, hits / n_ref
    return 2 * p * r / (p + r)


def rouge_n(pred: list[str], ref: list[str], n: int) -> float:
    """F1 of clipped n-gram overlap."""
    pc = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))
    rc = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
    hits = sum((pc & rc).values())
    return _f1(hits, sum(pc.values()), sum(rc.values()))


def _lcs_positions(ref: list[str], cand: list[str]) -> set[int]:
    """Indices of ``ref`` tokens on one longest common subsequence with ``cand``."""
    rows, cols = len(ref), len(cand)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows):
        row, nxt = table[i], table[i + 1]
        ri = ref[i]
        for j in range(cols):
            nxt[j + 1] = row[j] + 1 if ri == cand[j] else max(row[j + 1], nxt[j])
    picked: set[int] = set()
    i, j = rows, cols
    while i > 0 and j > 0:
        if ref[i - 1] == cand[j - 1]:
            picked.add(i - 1)
            i, j = i - 1, j - 1
        elif table[i - 1][j] >= table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return picked


def rouge_lsum(pred_sents: list[list[str]], ref_sents: list[list[str]]) -> float:
    """Summary-level LCS F1 (rouge-score's rougeLsum)."""
    n_pred = sum(len(s) for s in pred_sents)
    n_ref = sum(len(s) for s in ref_sents)
    pred_left = Counter(t for s in pred_sents for t in s)
    ref_left = Counter(t for s in ref_sents for t in s)
    hits = 0
    for ref in ref_sents:
        union: set[int] = set()
        for cand in pred_sents:
            union |= _lcs_positions(ref, cand)
        for idx in sorted(union):
            tok = ref[idx]
            if pred_left[tok] > 0 and ref_left[tok] > 0:
                hits += 1
                pred_left[tok] -= 1
                ref_left[tok] -= 1
    return _f1(hits, n_pred, n_ref)


def score(pred: Sequence[str], ref: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/Lsum F1 (×100) of a prediction and a reference, each a list of sentences."""
    pred_sents = [tokenize(s) for s in pred]
    ref_sents = [tokenize(s) for s in ref]
    pred_flat = [t for s in pred_sents for t in s]
    ref_flat = [t for s in ref_sents for t in s]
    return {
        "rouge1": 100 * rouge_n(pred_flat, ref_flat, 1),
        "rouge2": 100 * rouge_n(pred_flat, ref_flat, 2),
        "rougeLsum": 100 * rouge_lsum(pred_sents, ref_sents),
    }
