"""The default extractive summariser: contract, not corpus scores (those live in bench/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from bot.core.ports import Summarizer
from bot.text import tokens
from bot.text.cosines import row_cosines
from bot.text.sentences import split_sentences
from bot.text.summarize import (
    STOPWORDS,
    ExtractiveSummarizer,
    ScoringWeights,
    content_tokens,
    tfidf_rows,
)

ARTICLE = "\n".join(
    [
        "SPRINGFIELD (AP) — The city council voted on Tuesday to close the old coal plant "
        "by 2030, ending a decade-long fight over the town's biggest polluter.",
        "Advertisement",
        "The plant, which opened in 1962, employs about 300 people and supplies a third "
        "of the region's electricity.",
        "Council members said the closure would be paid for by a state grant of $40 million.",
        "Mayor Jane Quimby said the vote was the hardest of her career.",
        "Workers at the plant will be offered jobs at a new solar farm, the council said.",
        "Read more: Springfield energy coverage",
        "The coal plant closure was opposed by the plant's union, which called the grant "
        "too small to retrain 300 workers.",
        "A final vote on the grant is expected next month.",
    ]
)
TITLE = "Springfield council votes to close coal plant by 2030"


def test_it_is_a_summarizer_port() -> None:
    summarizer: Summarizer = ExtractiveSummarizer()
    assert summarizer.summarize(TITLE, ARTICLE)


def test_sentences_come_from_the_article_in_order_and_within_budgets() -> None:
    summary = ExtractiveSummarizer(max_sentences=3, max_chars=400).summarize(TITLE, ARTICLE)
    picked = split_sentences(summary)
    body = split_sentences(ARTICLE)
    assert 1 <= len(picked) <= 3
    assert len(summary) <= 400
    positions = [body.index(s) for s in picked]
    assert positions == sorted(positions)


def test_the_lead_fact_is_kept_and_boilerplate_never_appears() -> None:
    summary = ExtractiveSummarizer().summarize(TITLE, ARTICLE)
    assert summary.startswith("The city council voted on Tuesday")
    for junk in ("Advertisement", "Read more", "(AP)", "SPRINGFIELD"):
        assert junk not in summary


def test_deterministic_and_batch_api_agrees() -> None:
    summarizer = ExtractiveSummarizer()
    first = summarizer.summarize(TITLE, ARTICLE)
    assert all(summarizer.summarize(TITLE, ARTICLE) == first for _ in range(3))
    assert summarizer.summarize_many([(TITLE, ARTICLE), ("", "")]) == [first, ""]


def test_same_output_whatever_was_summarised_before() -> None:
    texts = [ARTICLE, ARTICLE.replace("coal", "gas"), "Zebras graze. Lions wait. Zebras run."]
    summarizer = ExtractiveSummarizer()
    forward = [summarizer.summarize(TITLE, t) for t in texts]
    tokens._CANON.clear()
    backward = [summarizer.summarize(TITLE, t) for t in reversed(texts)]
    assert backward[::-1] == forward
    # Nor on the rest of a batch (padding to the longest lead changes no score).
    items = [(TITLE, t) for t in texts] + [("", ""), (TITLE, "One sentence.")]
    alone = [summarizer.summarize(title, t) for title, t in items]
    assert summarizer.summarize_many(items) == alone
    assert summarizer.summarize_many(items[::-1]) == alone[::-1]


def test_only_the_lead_window_is_read() -> None:
    # Two fragments lead; the real news is sentence 3.
    lead = ["Rain fell.", "Wind rose."]
    star = "The coal plant closure vote passed the city council on Tuesday night."
    text = " ".join([*lead, star])
    title = "Coal plant closure vote passes council"
    wide = ExtractiveSummarizer(max_sentences=1)
    assert wide.summarize(title, text) == star
    assert wide.select(title, [*lead, star]) == [2]
    narrow = ExtractiveSummarizer(max_sentences=1, weights=ScoringWeights(window=2))
    assert narrow.summarize(title, text) in lead
    assert narrow.select(title, [*lead, star]) != [2]
    scores, sims = narrow.score(title, [*lead, star])  # score() reads every sentence
    assert scores.shape == (3,) and sims.shape == (3, 3)
    assert narrow.select("t", []) == []
    assert narrow.score("t", [])[0].shape == (0,)


def test_redundant_sentence_is_not_picked_twice() -> None:
    text = (
        "The bridge will close on Monday for repairs. "
        "The bridge will close on Monday for urgent repairs. "
        "Drivers should use the ring road instead. "
        "Buses will run every ten minutes."
    )
    summary = ExtractiveSummarizer(max_sentences=2).summarize("Bridge closes", text)
    assert summary.count("The bridge will close") == 1


def test_one_sentence_budget_and_tiny_inputs() -> None:
    one = ExtractiveSummarizer(max_sentences=1).summarize(TITLE, ARTICLE)
    assert len(split_sentences(one)) == 1
    assert ExtractiveSummarizer().summarize("t", "") == ""
    assert ExtractiveSummarizer().summarize("t", "Only one sentence here.") == (
        "Only one sentence here."
    )
    # No sentence fits: the lead, cut at a word boundary, marked with an ellipsis.
    short = ExtractiveSummarizer(max_chars=40).summarize(TITLE, ARTICLE)
    assert short == "The city council voted on Tuesday to…"
    assert len(short) <= 40


def test_bad_budgets_are_refused() -> None:
    with pytest.raises(ValueError):
        ExtractiveSummarizer(max_sentences=0)
    with pytest.raises(ValueError):
        ExtractiveSummarizer(max_chars=5)


def test_smoke_on_shared_cnndm() -> None:
    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "summarization"
    path = path / "cnndm_dev.jsonl"
    if not path.exists():
        pytest.skip(f"shared evaluation data not found at {path}")
    rows = [json.loads(line) for line in path.open(encoding="utf-8")][:20]
    summarizer = ExtractiveSummarizer()
    for row in rows:
        summary = summarizer.summarize("", row["article"])
        assert 0 < len(summary) <= 600


def _reference_tokens(text: str) -> list[str]:
    """content_tokens' rule written the slow, obvious way."""
    out = []
    for tok in re.findall(r"[a-z0-9]+", text.lower()):
        if len(tok) < 2 or tok in STOPWORDS:
            continue
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
            tok = tok[:-1]
        out.append(tok)
    return out


@pytest.mark.parametrize(
    "text",
    [
        "The Senate's votes on Tuesday: 51–49 (U.S. bills) – cars, buses & bonus!",
        "İstanbul \u212aelvin café naïve Zürich ÉCOLE straße 42nd",
        "Line one\nline\ttwo\u00a0three \ud800 lone surrogate, emoji 🎉 done",
        "",
    ],
)
def test_content_tokens_follow_the_documented_rule(text: str) -> None:
    assert content_tokens(text) == _reference_tokens(text)


def _reference_cosines(sentences: list[str], title: str) -> np.ndarray:
    """Cosines of tfidf_rows, diagonal 0, the title first: the obvious way."""
    rows = tfidf_rows([content_tokens(s) for s in sentences], content_tokens(title))
    rows = np.roll(rows, 1, axis=0)
    gram = rows @ rows.T
    np.fill_diagonal(gram, 0.0)
    return gram


COSINE_CASES = [
    (split_sentences(ARTICLE), TITLE),
    (split_sentences(ARTICLE), ""),
    (["Broken\nsentence about the coal plant.", "Coal plant closes."], TITLE),
    (["Coal plant closes.", "Plant staff move."], "Zebra coal"),
    (["!!", "?? ..."], ""),
    (["The and of.", "It is what it is."], "the"),
    (["Coal coal coal.", "Plant."], "coal plant"),
    (["Lone sentence about coal."], "Coal"),
    (["Others said the cars, buses and bosses", "İstanbul \u212aelvin café"], "Other car"),
    # Words one letter apart: their hashes must not share a batch's sort key.
    (["The bat and the cat sat on a hat.", "A cat, a rat and a bat."], "Cat bat"),
    # Words past 8 and 16 bytes, folds onto them, words starting like a stop word.
    (
        ["Internationalisation of counterrevolutionaries.", "Theirs: abouts, thee, abcdefghs."],
        "Internationalisations: counterrevolutionary abcdefgh about their",
    ),
]


@pytest.mark.parametrize(("sentences", "title"), COSINE_CASES)
def test_row_cosines_equal_the_cosines_of_tfidf_rows(sentences: list[str], title: str) -> None:
    fast = row_cosines([[title, *sentences]]).gram
    n = len(sentences)
    assert fast.shape == (1, n + 1, n + 1)
    np.testing.assert_allclose(fast[0], _reference_cosines(sentences, title), atol=1e-12)


def test_row_cosines_of_a_batch_are_each_documents_own() -> None:
    docs = [[title, *sentences] for sentences, title in COSINE_CASES]
    batch = row_cosines(docs).gram
    most = max(len(doc) for doc in docs)
    assert batch.shape == (len(docs), most, most)
    for doc, gram in zip(docs, batch, strict=True):
        size = len(doc)
        assert np.array_equal(gram[:size, :size], row_cosines([doc]).gram[0])
        assert not gram[size:].any() and not gram[:, size:].any()


@pytest.mark.parametrize("weights", [ScoringWeights(), ScoringWeights(backward=-0.2)])
def test_one_articles_scores_on_lists_equal_the_batch_scores_exactly(
    weights: ScoringWeights,
) -> None:
    """A batch of one is scored on plain floats, a bigger one with numpy: same floats."""
    summarizer = ExtractiveSummarizer(weights=weights)
    leads = [sentences[:10] for sentences, _ in COSINE_CASES if len(sentences) > 1]
    titles = [title for sentences, title in COSINE_CASES if len(sentences) > 1]
    gram, words = row_cosines([[title, *lead] for title, lead in zip(titles, leads, strict=True)])
    batch = summarizer._scores(gram, words, [len(lead) for lead in leads])
    for k, lead in enumerate(leads):
        size = len(lead) + 1
        alone = summarizer._scores_alone(gram[k, :size, :size].tolist(), words[k, 1:size].tolist())
        assert alone == batch[k, : len(lead)].tolist()
