"""TF-IDF cosines between the rows of many small documents at once, in numpy.

The summariser scores an article's first ten sentences (and its title) on the cosines
of their TF-IDF vectors. On ten sentences numpy's per-call overhead, not arithmetic,
is the cost, and a Python step per word (a dict lookup, a ``bytes`` object) costs as
much as the rest; so a batch of articles goes through one fixed sequence of numpy
calls, and no Python code runs per word or per article:

- words: the rows are joined with "\\n" and ``translate``d once (``bot.text.tokens``'
  rule: runs of [a-z0-9], lower-cased); word boundaries come from comparing
  neighbouring bytes, and each word's id is a polynomial hash mod 2**64 of its bytes,
  read off one cumulative sum (stop words by the hash of the unfolded word, the plural
  fold by hashing one byte less);
- counts: one sort by (document, word, row) gives term counts per row and document
  frequencies per document; weights are 1 + ln(tf) times the smoothed IDF;
- cosines: every pair of rows sharing a word adds w·w' to its cell through one
  ``bincount``, which sums in input order (word id, then row), so a document's cosines
  never depend on the other documents of the batch.

Row 0 of each document is a query (the title): it gets a vector but counts in no
document frequency, so a word only it has weighs 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import chain

import numpy as np

from bot.text.tokens import STOPWORDS, WORD_BYTES, words

__all__ = ["row_cosines", "smooth_idf", "sublinear_tf"]

# "\n" becomes "#", the only byte besides spaces and word bytes: it starts a new row.
_MARKED_BYTES = WORD_BYTES[:10] + b"#" + WORD_BYTES[11:]
_SPACE, _MARK, _S = 32, ord("#"), ord("s")
# Second-to-last letters that keep a final "s" ("boss", "bus", "basis").
_KEEPS_S = np.zeros(256, dtype=bool)
_KEEPS_S[list(b"sui")] = True

# 1 + ln(tf) for term counts 0..4095 (0 for an absent term), looked up, not computed.
_SUBLINEAR = np.concatenate(([0.0], 1.0 + np.log(np.arange(1, 4096, dtype=np.float64))))

# An odd multiplier has an inverse mod 2**64, so a word's hash can be read off a
# cumulative sum of byte·P^i at any offset: (H[end] - H[start])·P^-start.
_MULT = 0x9E3779B97F4A7C15
_INVERSE = pow(_MULT, -1, 2**64)
_POWER_CACHE = 1 << 18  # bytes of text whose powers are kept between calls
_SHIFT, _MIX = np.uint64(32), np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's finaliser


def sublinear_tf(counts: np.ndarray) -> np.ndarray:
    """1 + ln(tf), 0 for tf = 0 (a table look-up below 4096)."""
    if counts.size and counts.max() >= len(_SUBLINEAR):
        weights: np.ndarray = (1.0 + np.log(np.maximum(counts, 1))) * (counts > 0)
        return weights
    looked_up: np.ndarray = _SUBLINEAR[counts]
    return looked_up


@lru_cache(maxsize=256)
def smooth_idf(n: int) -> np.ndarray:
    """ln((n + 1) / (df + 1)) + 1 for df = 1..n, and 0 for df = 0 (read-only, shared).

    Only a word no sentence has (one only the title has) has df = 0: it weighs 0.
    """
    idf = np.log((n + 1) / (np.arange(n + 1) + 1)) + 1.0
    idf[0] = 0.0
    idf.flags.writeable = False
    return idf


@lru_cache(maxsize=64)
def _idf_table(most: int) -> np.ndarray:
    """``smooth_idf(n)[df]`` at [n, df] for n, df <= ``most`` (the same floats)."""
    table = np.zeros((most + 1, most + 1))
    for n in range(most + 1):
        table[n, : n + 1] = smooth_idf(n)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=1)
def _cached_powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    return _compute_powers(size)


def _compute_powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i mod 2**64 for i < ``size``."""
    out = []
    for base in (_MULT, _INVERSE):
        steps = np.full(size, base, dtype=np.uint64)
        steps[0] = 1
        out.append(np.multiply.accumulate(steps))  # wraps mod 2**64
    return out[0], out[1]


def _cumulative(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """H[k] = sum of data[i]·P^i for i < k (mod 2**64), and the inverse powers."""
    size = len(data)
    if size + 1 > _POWER_CACHE:
        power, inverse = _compute_powers(size + 1)
    else:
        power, inverse = _cached_powers(_POWER_CACHE)
    cumulative = np.empty(size + 1, dtype=np.uint64)
    cumulative[0] = 0
    np.multiply(data, power[:size], out=cumulative[1:])
    cumulative[1:].cumsum(out=cumulative[1:])
    return cumulative, inverse


def _hashes(
    sums: tuple[np.ndarray, np.ndarray], starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Polynomial hashes of the byte ranges [starts, ends) (``sums``: ``_cumulative``)."""
    cumulative, inverse = sums
    hashes: np.ndarray = (cumulative[ends] - cumulative[starts]) * inverse[starts]
    # The low bits of a polynomial hash only see the low bits of the bytes ("bat" and
    # "cat" differ by 1); a bijective mix (xor-shift, odd multiply) spreads every byte
    # over all bits without merging two hashes, so a batch's sort key can drop low bits.
    hashes ^= hashes >> _SHIFT
    hashes *= _MIX
    hashes ^= hashes >> _SHIFT
    return hashes


def _stopword_hashes() -> np.ndarray:
    text = b" " + " ".join(sorted(STOPWORDS)).encode("ascii") + b" "
    data = np.frombuffer(text, dtype=np.uint8)
    spaces = np.flatnonzero(data == _SPACE)
    return np.unique(_hashes(_cumulative(data), spaces[:-1] + 1, spaces[1:]))


def _stopword_table(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.uint64]:
    """A direct-mapped table of the stop-word hashes: entry ``hash & mask`` holds the
    index in ``known`` of the one stop word with those low bits (0: none; ``known[0]``
    has other low bits, so no word that lands there equals it). A gather, not a binary
    search per word (those miss the cache)."""
    bits = 12
    while len(np.unique(hashes & np.uint64((1 << bits) - 1))) < len(hashes):
        bits += 1
    mask = np.uint64((1 << bits) - 1)
    table = np.zeros(1 << bits, dtype=np.intp)
    table[(hashes & mask).astype(np.intp)] = np.arange(1, len(hashes) + 1)
    known = np.concatenate((hashes[:1], hashes))
    return table, known, mask


_STOP_TABLE, _STOP_KNOWN, _STOP_MASK = _stopword_table(_stopword_hashes())


def _word_ids(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Content-token ids of ``text`` and the row (count of "\n" before) of each."""
    data = np.frombuffer(b" " + words(text, _MARKED_BYTES) + b" ", dtype=np.uint8)
    in_word = data > _MARK  # digits and letters; the mark and spaces sort below "0"
    edges = (in_word[1:] != in_word[:-1]).nonzero()[0]
    edges += 1
    starts, ends = edges[0::2], edges[1::2]
    sums = _cumulative(data)
    ids = _hashes(sums, starts, ends)
    lengths = ends - starts
    stop = _STOP_KNOWN[_STOP_TABLE[(ids & _STOP_MASK).astype(np.intp)]] == ids
    keep = (lengths > 1) & ~stop
    # The plural fold, after the stop-word test (as ``content_tokens`` does it).
    fold = keep & (lengths > 4) & (data[ends - 1] == _S) & ~_KEEPS_S[data[ends - 2]]
    if fold.any():
        ids[fold] = _hashes(sums, starts[fold], ends[fold] - 1)
    # A word's row is the number of marks before it: count the words after each mark.
    starts = starts[keep]
    after = starts.searchsorted((data == _MARK).nonzero()[0])
    rows = np.bincount(after, minlength=len(starts) + 1)[: len(starts)].cumsum()
    return ids[keep], rows


def row_cosines(docs: Sequence[Sequence[str]]) -> np.ndarray:
    """Cosines between the rows of each document: shape (len(docs), S, S), S the most
    rows of any document; a document's cells past its own rows are 0, the diagonal 0.

    Row 0 of a document is its query (see the module doc); IDF is the document's own,
    from its other rows, so a document's cosines never depend on the others.
    """
    batch = len(docs)
    sizes = np.fromiter(map(len, docs), dtype=np.intp, count=batch)
    most = int(sizes.max(initial=1))
    parts = list(chain.from_iterable(docs))
    joined = "\n".join(parts)
    if joined.count("\n") != len(parts) - 1:  # a row holding "\n" is still one row
        joined = "\n".join([part.replace("\n", " ") for part in parts])
    ids, rows = _word_ids(joined)
    if len(ids) == 0:
        return np.zeros((batch, most, most))
    if batch == 1:
        doc_of_row = np.zeros(len(parts), dtype=np.intp)
        local_of_row = np.arange(len(parts))
    else:
        doc_of_row = np.arange(batch).repeat(sizes)
        local_of_row = np.arange(len(parts)) - (sizes.cumsum() - sizes).repeat(sizes)
    # One sort key: the document in the top bits, the word's hash below (shifting it
    # keeps the words' order; two words of one document sharing a key is a ~1e-14
    # chance); the sort is stable, so each word's rows stay in order.
    key = ids
    if batch > 1:
        bits = np.uint64((batch - 1).bit_length())
        key = ids >> bits | doc_of_row[rows].astype(np.uint64) << (np.uint64(64) - bits)
    order = key.argsort(kind="stable")
    key, rows = key[order], rows[order]
    count = len(key)
    # An entry is one (row, word) with its count; a group one (document, word).
    new_group = np.empty(count, dtype=bool)
    new_group[0] = True
    np.not_equal(key[1:], key[:-1], out=new_group[1:])
    new_entry = new_group.copy()
    new_entry[1:] |= rows[1:] != rows[:-1]
    entry_starts = new_entry.nonzero()[0]
    tf = np.empty(len(entry_starts), dtype=np.intp)
    tf[:-1] = entry_starts[1:] - entry_starts[:-1]
    tf[-1] = count - entry_starts[-1]
    group = new_group.cumsum()[entry_starts] - 1
    entry_rows = rows[entry_starts]
    local = local_of_row[entry_rows]
    entry_doc = doc_of_row[entry_rows]
    groups = int(group[-1]) + 1
    df = np.bincount(group[local > 0], minlength=groups)
    weights = sublinear_tf(tf) * _idf_table(most)[sizes[entry_doc] - 1, df[group]]
    # Every pair of entries of one group (a row with itself included) adds w·w' to
    # the cell (document, row, row'); pairs run in entry order, so sums do too.
    group_start = new_group[entry_starts].nonzero()[0]
    members = np.bincount(group, minlength=groups)[group]
    first_pair = members.cumsum()
    pairs = int(first_pair[-1])
    first_pair -= members
    partner = (group_start[group] - first_pair).repeat(members)
    partner += np.arange(pairs)
    cells = ((entry_doc * most + local) * most).repeat(members)
    cells += local[partner]
    products = weights.repeat(members)
    products *= weights[partner]
    gram: np.ndarray = np.bincount(cells, products, batch * most * most)
    gram = gram.reshape(batch, most, most)
    # Norms are 0 or >= 1 (every weight is 0 or >= 1): max(norm_i·norm_j, 1) divides
    # the non-zero cells by the product of norms and leaves zero rows at zero.
    norms = np.sqrt(gram.reshape(batch, most * most)[:, :: most + 1])
    gram /= np.maximum(norms[:, :, None] * norms[:, None, :], 1.0)
    gram.reshape(batch, most * most)[:, :: most + 1] = 0.0
    return gram
