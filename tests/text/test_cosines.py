"""Word ids and batching of ``bot.text.cosines`` (its cosines: test_summarizer.py)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.text import cosines
from bot.text.cosines import row_cosines
from bot.text.tokens import content_tokens

# Words around the 8- and 16-byte steps of the packing, plural folds onto them, stop
# words (some that fold, "theirs"), words that start like a stop word or like each
# other, folds onto a stop word ("abouts" is the token "about"), one-byte words.
ROWS = [
    "abcdefg abcdefgh abcdefghi abcdefghs abcdefghis abcdefgs abcdefghss abcdefgh",
    "internationalisation internationalization internationalisations internationalisatio",
    "counterrevolutionaries counterrevolutionary abcdefghijklmnop abcdefghijklmnopq",
    "abcdefghijklmnops abcdefghijklmnopqrstuvwxyz0123456789 abcdefghijklmnopqrstuvwxyz012345",
    "the them then thee theirs their yours your ourselves ourselve themselves abouts about",
    "cars car bosses boss buses bus basis a i x 7 42 s t ll ve",
    "ABCDEFGH Abcdefgh abcdefgh\tabcdefgh\u00e9abcdefghs 2030s 1960s abcdefgh",
]


def test_word_ids_are_one_id_per_content_token() -> None:
    ids, keep, per_row = cosines._word_ids(ROWS)
    tokens = [(row, token) for row, text in enumerate(ROWS) for token in content_tokens(text)]
    assert np.arange(len(ROWS)).repeat(per_row)[keep].tolist() == [row for row, _ in tokens]
    ids_of: dict[str, set[int]] = {}
    for (_, token), word_id in zip(tokens, ids[keep].tolist(), strict=True):
        ids_of.setdefault(token, set()).add(word_id)
    assert all(len(one) == 1 for one in ids_of.values())
    assert len(set().union(*ids_of.values())) == len(ids_of)


def test_a_row_holding_a_newline_is_one_row() -> None:
    ids, keep, per_row = cosines._word_ids(["coal\nplant", "coal plant"])
    assert len(per_row) == 2
    first, second = np.split(ids[keep], [int(keep[: per_row[0]].sum())])
    assert first.tolist() == second.tolist()


def test_a_batch_too_big_for_one_sort_key_goes_in_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes = (3, 5, 2, 21, 4)
    docs = [[f"coal plant row{i} " + "plant " * (i % 3) for i in range(n)] for n in sizes]
    whole = row_cosines(docs)
    monkeypatch.setattr(cosines, "_TAG_BITS", 6)  # 21 rows: 5 bits, so 2 documents a part
    parts = row_cosines(docs)
    assert np.array_equal(parts.gram, whole.gram)
    assert np.array_equal(parts.words, whole.words)


def test_words_per_row_are_the_runs_of_letters_and_digits() -> None:
    words = row_cosines([["A title", "U.S. well-known 3.5 a b", "The"], ["—", "Hi there."]]).words
    assert words.tolist() == [[2, 8, 1], [0, 2, 0]]
