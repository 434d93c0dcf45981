"""TF-IDF cosines between the rows of many small documents at once, in numpy.

The summariser scores an article's first nine sentences (and its title) on the cosines
of their TF-IDF vectors. On nine sentences numpy's per-call overhead, not arithmetic,
is the cost, and a Python step per word (a dict lookup, a ``bytes`` object) costs as
much as the rest; so a batch of articles goes through one fixed sequence of numpy
calls, and no Python code runs per word or per article:

- words: the rows are joined with " \\n " and ``translate``d once (``bot.text.tokens``'
  rule: runs of [a-z0-9], lower-cased; "\\n" becomes "#", a one-byte word that ends a
  row); word boundaries come from comparing neighbouring bytes, and a word's id is
  its bytes themselves: one unaligned 8-byte load at its start, cut to its length
  (exact up to 8 bytes; each further 8 are chained in through a mix), then mixed
  so the high bits see every byte. The plural fold packs one byte less; stop words
  (and one-byte words) come out of one table look-up of the id, told apart from a
  folded word's (see ``_scan``);
- counts: one sort of 64-bit keys (document, the id's high bits, row) groups the
  words by document and word with each word's rows in order, so it need not be
  stable (numpy's quicksort is SIMD); it gives term counts per row and document
  frequencies per document; weights are 1 + ln(tf) times the smoothed IDF;
- cosines: every pair of rows sharing a word adds w·w' to its cell through one
  ``bincount``, which sums in input order (word, then row), as the squared norms
  do; so a document's cosines never depend on the other documents of the batch, but
  for the chance that two of its words share the >= 40 high bits a key keeps of
  their ids (55 for 25 articles of 11 rows: ~1e-12 for an article of 300 words).

Row 0 of each document is a query (the title): it gets a vector but counts in no
document frequency, so a word only it has weighs 0. The words of each row (stop words
too) come out on the way, for the summariser's length rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import NamedTuple

import numpy as np

from bot.text.tokens import STOPWORDS, WORD_BYTES, words

__all__ = ["RowCosines", "row_cosines", "smooth_idf", "sublinear_tf"]

# Rows are joined with " \n " and "\n" becomes "#", a one-byte word that starts a row.
_MARKED_BYTES = WORD_BYTES[:10] + b"#" + WORD_BYTES[11:]
_SPACE, _MARK, _S = 32, ord("#"), ord("s")

# 1 + ln(tf) for term counts 0..4095 (0 for an absent term), looked up, not computed.
_SUBLINEAR = np.concatenate(([0.0], 1.0 + np.log(np.arange(1, 4096, dtype=np.float64))))

# A word's bytes, packed: an unaligned 8-byte load at the word's start, cut to its
# length. ``_KEEP[k]`` keeps the first k bytes of a little-endian load.
_KEEP = np.array([(1 << 8 * k) - 1 for k in range(9)], dtype=np.uint64)
_PAD = b" " * 8  # so an 8-byte load anywhere in the text stays in the buffer
_SHIFT, _MIX = np.uint64(32), np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's finaliser
_TAG_BITS = 24  # most bits of a sort key for (document, row): >= 40 stay for the word


def sublinear_tf(counts: np.ndarray) -> np.ndarray:
    """1 + ln(tf), 0 for tf = 0 (a table look-up below 4096)."""
    if counts.size and counts.max() >= len(_SUBLINEAR):
        weights: np.ndarray = (1.0 + np.log(np.maximum(counts, 1))) * (counts > 0)
        return weights
    looked_up: np.ndarray = _SUBLINEAR.take(counts)
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
    """``smooth_idf(n)[df]`` at [n, df] for n, df <= ``most`` (the same floats),
    flattened: at n * (most + 1) + df."""
    table = np.zeros((most + 1, most + 1))
    for n in range(most + 1):
        table[n, : n + 1] = smooth_idf(n)
    flat = table.ravel()
    flat.flags.writeable = False
    return flat


def _mix(ids: np.ndarray) -> np.ndarray:
    """A bijection of uint64 that spreads every input bit over the high bits, in place."""
    ids ^= ids >> _SHIFT
    ids *= _MIX
    ids ^= ids >> _SHIFT
    return ids


def _loads(raw: bytes) -> np.ndarray:
    """The little-endian 8-byte load at every offset of ``raw`` (a view, no copy).

    Index it with ``[]``: ``take`` copies the view first, an array 8 times the text.
    """
    return np.ndarray((len(raw) - 7,), dtype="<u8", buffer=raw, strides=(1,))


def _pack(loads: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Ids of the byte ranges [starts, starts + sizes) (``loads``: ``_loads``): the
    bytes themselves up to 8 (no word byte is 0, so this is exact), chained through
    ``_mix`` per further 8; then mixed, so the high bits (a batch's sort key) see
    every byte."""
    ids: np.ndarray = loads[starts]
    ids &= _KEEP.take(np.minimum(sizes, 8))
    longer = (sizes > 8).nonzero()[0]
    offset = 8
    while len(longer):  # once per 8 bytes of the longest word, on the longer words
        rest = sizes.take(longer) - offset
        chunk = loads[starts.take(longer) + offset]
        chunk &= _KEEP.take(np.minimum(rest, 8))
        ids[longer] = _mix(ids.take(longer)) ^ chunk
        offset += 8
        longer = longer.compress(rest > 8)
    return _mix(ids)


def _scan(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The ids (plural-folded) and the stop-word keys of every word of ``raw`` (a
    ``words`` text framed by a space and ``_PAD``); "#" is a word too.

    A word's key is the id of its folded form plus 1 if it was folded: as distinct
    as the words themselves (the fold only drops an "s"), so a word is a stop word
    when its key is one's, and the fold can come before the stop-word test.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    in_word = data > _SPACE
    edges = (in_word[1:] != in_word[:-1]).nonzero()[0]
    edges += 1
    starts, ends = edges[0::2].copy(), edges[1::2].copy()  # contiguous: faster below
    sizes = ends - starts
    ends -= 2  # at its second-last byte
    fold = data[1:].take(ends) == _S
    fold &= sizes > 4
    second_last = data.take(ends)
    for keeps in b"sui":  # "boss", "bus", "basis" keep their "s"
        fold &= second_last != keeps
    sizes -= fold
    ids = _pack(_loads(raw), starts, sizes)
    return ids, ids + fold


def _stopword_keys() -> np.ndarray:
    """Keys (see ``_scan``) of the stop words, the one-byte words and the mark "#"."""
    one_byte = [chr(c) for c in WORD_BYTES if c != _SPACE] + ["#"]
    text = " ".join(sorted(STOPWORDS.union(one_byte))).encode("ascii")
    return np.unique(_scan(b" " + text + _PAD)[1])


def _stopword_table(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.uint64]:
    """A direct-mapped table of the stop-word keys: entry ``key & mask`` holds the
    index in ``known`` of the one stop word with those low bits (0: none; ``known[0]``
    has other low bits, so no word that lands there equals it). A gather, not a binary
    search per word (those miss the cache)."""
    bits = 12
    while len(np.unique(keys & np.uint64((1 << bits) - 1))) < len(keys):
        bits += 1
    mask = np.uint64((1 << bits) - 1)
    table = np.zeros(1 << bits, dtype=np.intp)
    table[(keys & mask).astype(np.intp)] = np.arange(1, len(keys) + 1)
    known = np.concatenate((keys[:1], keys))
    return table, known, mask


_STOP_TABLE, _STOP_KNOWN, _STOP_MASK = _stopword_table(_stopword_keys())
_MARK_ID = _scan(b" # " + _PAD)[0][0]


def _word_ids(rows: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids of every word of ``rows``, which of them are content tokens, and how many
    words each row has."""
    raw = b" " + words(" \n ".join(rows), _MARKED_BYTES) + _PAD
    if np.count_nonzero(np.frombuffer(raw, dtype=np.uint8) == _MARK) != len(rows) - 1:
        return _word_ids([row.replace("\n", " ") for row in rows])  # a row holding "\n"
    ids, keys = _scan(raw)
    keep = _STOP_KNOWN.take(_STOP_TABLE.take((keys & _STOP_MASK).view(np.intp))) != keys
    # A row's words run from the mark before it (dropped: a one-byte word) to its end.
    marks = (ids == _MARK_ID).nonzero()[0]
    per_row = np.empty(len(rows), dtype=np.intp)
    per_row[:-1] = marks
    per_row[-1] = len(ids)
    per_row[1:] -= marks
    return ids, keep, per_row


class RowCosines(NamedTuple):
    """What ``row_cosines`` reads off a batch of documents of up to S rows."""

    gram: np.ndarray  # (documents, S, S): cosines, 0 past a document's rows
    words: np.ndarray  # (documents, S): words per row (runs of [a-z0-9], stop words too)


def row_cosines(docs: Sequence[Sequence[str]]) -> RowCosines:
    """Cosines between the rows of each document: shape (len(docs), S, S), S the most
    rows of any document; a document's cells past its own rows are 0, the diagonal 0;
    and the words of each row, which the tokenising counts on the way.

    Row 0 of a document is its query (see the module doc); IDF is the document's own,
    from its other rows, so a document's cosines never depend on the others.
    """
    batch = len(docs)
    sizes = np.fromiter(map(len, docs), dtype=np.intp, count=batch)
    most = int(sizes.max(initial=1))
    doc_bits, row_bits = (batch - 1).bit_length(), (most - 1).bit_length()
    if batch > 1 and doc_bits + row_bits > _TAG_BITS:  # too many to tag: in parts
        step = 1 << max(_TAG_BITS - row_bits, 0)
        whole = RowCosines(np.zeros((batch, most, most)), np.zeros((batch, most), np.intp))
        for first in range(0, batch, step):
            part = row_cosines(docs[first : first + step])
            rows = part.words.shape[1]
            whole.gram[first : first + step, :rows, :rows] = part.gram
            whole.words[first : first + step, :rows] = part.words
        return whole
    parts = list(chain.from_iterable(docs))
    row_words = np.zeros((batch, most), dtype=np.intp)
    if not parts:
        return RowCosines(np.zeros((batch, most, most)), row_words)
    ids, keep, per_row = _word_ids(parts)
    # Less the mark that starts each row but the first.
    row_words[np.arange(most) < sizes[:, None]] = per_row - (np.arange(len(parts)) > 0)
    # One sort key per word: its document, its id's high bits, its row in the document
    # (two words of a document sharing those bits: see the module doc).
    local_of_row = np.arange(len(parts))
    if batch > 1:
        local_of_row -= (sizes.cumsum() - sizes).repeat(sizes)
    tags = local_of_row.astype(np.uint64)
    if batch > 1:
        tags |= np.arange(batch, dtype=np.uint64).repeat(sizes) << np.uint64(64 - doc_bits)
    key = ids >> np.uint64(doc_bits)
    key &= np.uint64(2**64 - (1 << row_bits))
    key |= tags.repeat(per_row)
    key = key.compress(keep)
    count = len(key)
    if count == 0:
        return RowCosines(np.zeros((batch, most, most)), row_words)
    key.sort()
    # An entry is one (row, word) with its count; a group one (document, word).
    new_entry = np.empty(count, dtype=bool)
    new_entry[0] = True
    np.not_equal(key[1:], key[:-1], out=new_entry[1:])
    entry_starts = new_entry.nonzero()[0]
    entry_key = key.take(entry_starts)
    entries = len(entry_starts)
    tf = np.empty(entries, dtype=np.intp)
    tf[:-1] = entry_starts[1:] - entry_starts[:-1]
    tf[-1] = count - entry_starts[-1]
    local = (entry_key & np.uint64((1 << row_bits) - 1)).view(np.intp)
    grouped = entry_key >> np.uint64(row_bits)
    new_group = np.empty(entries, dtype=bool)
    new_group[0] = True
    np.not_equal(grouped[1:], grouped[:-1], out=new_group[1:])
    group_start = new_group.nonzero()[0]
    members = np.empty(len(group_start), dtype=np.intp)
    members[:-1] = group_start[1:] - group_start[:-1]
    members[-1] = entries - group_start[-1]
    if batch > 1:
        group_doc = (entry_key.take(group_start) >> np.uint64(64 - doc_bits)).view(np.intp)
    else:
        group_doc = np.zeros(len(group_start), dtype=np.intp)
    # A group's rows ascend, so row 0 (the query, in no document frequency) is first.
    df = members - (local.take(group_start) == 0)
    at = ((sizes - 1) * (most + 1)).take(group_doc)  # the row of the document's size
    at += df
    idf = _idf_table(most).take(at)
    weights = sublinear_tf(tf) * idf.repeat(members)
    # A row's squared norm sums its w² in entry order (word, as every cell does).
    cell_row = group_doc.repeat(members) * most + local
    norms = np.sqrt(np.bincount(cell_row, weights * weights, batch * most))
    # Every pair of entries of one group adds w·w' to the cell (document, row, row'),
    # the earlier row first (a group's rows ascend); pairs run in entry order, so each
    # cell sums in word order; the transpose fills the other half.
    index = np.arange(entries)
    each = (group_start + members).repeat(members) - index - 1  # later entries
    first_pair = each.cumsum()
    pairs = int(first_pair[-1])
    first_pair -= each
    index += 1
    partner = (index - first_pair).repeat(each)
    partner += np.arange(pairs)
    cell_row *= most
    cells = cell_row.repeat(each)
    cells += local.take(partner)
    products = weights.repeat(each)
    products *= weights.take(partner)
    upper = np.bincount(cells, products, batch * most * most).reshape(batch, most, most)
    # (without pairs ``bincount`` gives integer zeros)
    gram: np.ndarray = np.add(upper, upper.transpose(0, 2, 1), dtype=np.float64)
    # Norms are 0 or >= 1 (every weight is 0 or >= 1): max(norm_i·norm_j, 1) divides
    # the non-zero cells by the product of norms and leaves zero rows at zero.
    norms = norms.reshape(batch, most)
    gram /= np.maximum(norms[:, :, None] * norms[:, None, :], 1.0)
    return RowCosines(gram, row_words)
