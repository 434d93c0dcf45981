"""Summariser benchmark: ROUGE-1/2/Lsum and speed, briefbot vs LEAD-k, TextRank, LexRank.

Input JSONL ``{id, article, summary, title?}`` (CNN/DailyMail dev by default; also
``xsum_dev.jsonl`` with ``--sentences 1`` and ``bbc_news_summary.jsonl``).

- ROUGE: bench/_rouge.py, rouge-score's conventions (Porter stemming, F1, rougeLsum
  over sentences); references are split into sentences with briefbot's splitter.
- Every system gets the same sentences (``split_sentences``) and the same k. briefbot
  is called as the pipeline calls it: the drafts of one ingest in one
  ``ExtractiveSummarizer.summarize_many`` call (here each chunk of ``--chunk`` articles
  in one call), and ``briefbot_single`` one ``summarize`` call per article (the
  pipeline's path when an ingest brings one new article); the other systems one call
  per article. briefbot splits only the lead it reads (``lead_sentences``: its own lazy
  splitter, the same sentences as ``split_sentences`` for 97.8% of lead sentences, cut
  after ``ScoringWeights.window``), which is part of what is timed.
- TextRank (Mihalcea & Tarau 2004: word-overlap similarity, PageRank) and LexRank
  (Erkan & Radev 2004: TF-IDF cosine graph with a 0.1 threshold, power iteration)
  are compact re-implementations with numpy. When ``sumy`` is importable (the ``bench``
  extra) its LexRank and TextRank run too (rows ``sumy_*``, fed briefbot's splitter as
  tokenizer since NLTK's punkt data cannot be downloaded); the last lines give
  briefbot's speed as a multiple of theirs.
- Speed: one cold pass over all articles (``cold/s``: empty caches, e.g. briefbot's
  word-id cache), then ``--repeat`` warm passes (``art/s``: for each chunk of 25
  articles its fastest warm pass, summed), which is what a long-running bot with warm
  caches sees. Systems take turns chunk by chunk, so other load on the machine hits
  all alike; the sentence-split cache is cleared before every call (before every
  chunk for a batch call).
- ``diff_vs_lead`` is the mean per-article ROUGE-1 difference with a paired bootstrap
  95% CI (1,000 resamples, seeded).

Usage: python bench/summarize.py [--data PATH] [--sentences K] [--limit N] [--repeat R]
[--chunk C] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _rouge import score as rouge  # noqa: E402

from bot.text.sentences import _split_paragraph, lead_sentences, split_sentences  # noqa: E402
from bot.text.summarize import ExtractiveSummarizer, ScoringWeights, content_tokens  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "summarization" / "cnndm_dev.jsonl"
System = Callable[[str, str], str]
Batch = Callable[[Sequence[tuple[str, str]]], list[str]]


def _pagerank(weights: np.ndarray, damping: float = 0.85, iters: int = 50) -> np.ndarray:
    n = weights.shape[0]
    out = weights.sum(axis=1, keepdims=True)
    trans = np.where(out > 0, weights / np.where(out > 0, out, 1.0), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(iters):
        rank = (1 - damping) / n + damping * (trans.T @ rank)
    return rank


def _top_k(sentences: Sequence[str], scores: np.ndarray, k: int) -> str:
    picked = sorted(np.argsort(-scores, kind="stable")[:k].tolist())
    return " ".join(sentences[i] for i in picked)


def textrank(k: int) -> System:
    def run(title: str, text: str) -> str:
        sents = split_sentences(text)
        if len(sents) <= k:
            return " ".join(sents)
        toks = [set(content_tokens(s)) for s in sents]
        n = len(sents)
        w = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                denom = np.log(len(toks[i]) + 1) + np.log(len(toks[j]) + 1)
                if denom > 0:
                    w[i, j] = w[j, i] = len(toks[i] & toks[j]) / denom
        return _top_k(sents, _pagerank(w), k)

    return run


def lexrank(k: int) -> System:
    def run(title: str, text: str) -> str:
        sents = split_sentences(text)
        if len(sents) <= k:
            return " ".join(sents)
        toks = [content_tokens(s) for s in sents]
        vocab = {t: i for i, t in enumerate(sorted({t for d in toks for t in d}))}
        tf = np.zeros((len(sents), max(len(vocab), 1)))
        for r, d in enumerate(toks):
            for t in d:
                tf[r, vocab[t]] += 1
        idf = np.log(len(sents) / np.maximum((tf > 0).sum(axis=0), 1))
        vec = tf * idf
        vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
        adj = (np.einsum("ik,jk->ij", vec, vec) > 0.1).astype(np.float64)
        return _top_k(sents, _pagerank(adj), k)

    return run


class _SumyTokenizer:
    """sumy's tokenizer protocol backed by briefbot's splitter: no NLTK punkt needed."""

    language = "english"

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(re.findall(r"[\w'’-]+", sentence))


def sumy_systems(k: int) -> dict[str, System]:
    """sumy's LexRank and TextRank when sumy is installed (it is not a dependency)."""
    try:
        from sumy.nlp.stemmers import Stemmer  # type: ignore[import-not-found]
        from sumy.parsers.plaintext import PlaintextParser  # type: ignore[import-not-found]
        from sumy.summarizers.lex_rank import LexRankSummarizer  # type: ignore[import-not-found]
        from sumy.summarizers.text_rank import TextRankSummarizer  # type: ignore[import-not-found]
        from sumy.utils import get_stop_words  # type: ignore[import-not-found]
    except ImportError:
        return {}
    tokenizer = _SumyTokenizer()
    systems: dict[str, System] = {}
    for name, cls in (("sumy_lexrank", LexRankSummarizer), ("sumy_textrank", TextRankSummarizer)):
        summarizer = cls(Stemmer("english"))
        summarizer.stop_words = get_stop_words("english")

        def run(title: str, text: str, summarizer: Any = summarizer) -> str:
            doc = PlaintextParser.from_string(text, tokenizer).document
            return " ".join(str(s) for s in summarizer(doc, k))

        systems[name] = run
    return systems


def lead(k: int) -> System:
    return lambda title, text: " ".join(split_sentences(text)[:k])


def timed_passes(
    systems: dict[str, System],
    rows: Sequence[dict[str, Any]],
    repeat: int,
    chunk: int = 25,
    batched: dict[str, Batch] | None = None,
) -> tuple[dict[str, list[str]], dict[str, float], dict[str, float]]:
    """Outputs, cold articles/s (first pass) and warm articles/s (``repeat`` more).

    Within a pass the systems take turns every ``chunk`` articles, so a burst of other
    load on the machine slows all of them alike, while each still summarises articles
    back to back as the pipeline does; a ``batched`` system gets each chunk in one
    call. Warm time sums, over chunks, each chunk's fastest warm pass. The
    sentence-split cache is cleared before every call, so no system reuses another's
    (or its own earlier) splitting.
    """
    batched = batched or {}
    names = [*batched, *systems]
    passes = 1 + repeat
    starts = range(0, len(rows), chunk)
    times = {name: np.zeros((passes, len(starts))) for name in names}
    outputs: dict[str, list[str]] = {name: [] for name in names}
    clear = _split_paragraph.cache_clear
    for p in range(passes):
        for c, first in enumerate(starts):
            batch = [(r.get("title") or "", r["article"]) for r in rows[first : first + chunk]]
            for name, many in batched.items():
                clear()
                start = time.perf_counter()
                outs = many(batch)
                times[name][p, c] = time.perf_counter() - start
                if p == 0:
                    outputs[name] += outs
            for name, system in systems.items():
                spent = 0.0
                for title, article in batch:
                    clear()
                    start = time.perf_counter()
                    out = system(title, article)
                    spent += time.perf_counter() - start
                    if p == 0:
                        outputs[name].append(out)
                times[name][p, c] = spent
    cold = {name: len(rows) / float(t[0].sum()) for name, t in times.items()}
    warm = {
        name: len(rows) / float((t[1:] if repeat else t).min(axis=0).sum())
        for name, t in times.items()
    }
    return outputs, cold, warm


def evaluate(
    systems: dict[str, System],
    rows: Sequence[dict[str, Any]],
    repeat: int = 3,
    chunk: int = 25,
    batched: dict[str, Batch] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, list[float]]]:
    refs = [split_sentences(r["summary"]) or [r["summary"]] for r in rows]
    table: dict[str, dict[str, float]] = {}
    per_article: dict[str, list[float]] = {}
    outputs, cold, warm = timed_passes(systems, rows, repeat, chunk, batched)
    for name in outputs:
        scores = [
            rouge(split_sentences(o) or [o], ref)
            for o, ref in zip(outputs[name], refs, strict=True)
        ]
        table[name] = {
            m: float(np.mean([s[m] for s in scores])) for m in ("rouge1", "rouge2", "rougeLsum")
        }
        table[name]["articles_per_s"] = warm[name]
        table[name]["cold_articles_per_s"] = cold[name]
        table[name]["mean_chars"] = float(np.mean([len(o) for o in outputs[name]]))
        per_article[name] = [s["rouge1"] for s in scores]
    return table, per_article


def splitter_speed(rows: Sequence[dict[str, Any]], repeat: int = 3) -> dict[str, float]:
    """Articles/s of briefbot's splitters (all sentences; the summariser's lead) and of
    bare sentencex on the same texts."""
    from sentencex import segment

    texts = [r["article"] for r in rows]
    window = ScoringWeights().window
    ours: list[float] = []
    lead: list[float] = []
    bare: list[float] = []
    for _ in range(max(repeat, 1)):
        _split_paragraph.cache_clear()
        start = time.perf_counter()
        for text in texts:
            split_sentences(text)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        for text in texts:
            lead_sentences(text, window)
        lead.append(time.perf_counter() - start)
        start = time.perf_counter()
        for text in texts:
            list(segment("en", text))
        bare.append(time.perf_counter() - start)
    _split_paragraph.cache_clear()
    return {
        "split_sentences_articles_per_s": len(texts) / min(ours),
        "lead_sentences_articles_per_s": len(texts) / min(lead),
        "sentencex_articles_per_s": len(texts) / min(bare),
    }


def bootstrap_ci(diff: Sequence[float], n: int = 1000) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    arr = np.asarray(diff)
    means = arr[rng.integers(0, len(arr), size=(n, len(arr)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sentences", type=int, default=3, help="k for every system")
    parser.add_argument("--chars", type=int, default=600, help="briefbot's character budget")
    parser.add_argument("--limit", type=int, default=0, help="use the first N rows only")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes after the cold one")
    parser.add_argument("--chunk", type=int, default=25, help="articles per turn when timing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    k = args.sentences
    summarizer = ExtractiveSummarizer(max_sentences=k, max_chars=args.chars)
    base = f"lead{k}"
    batched: dict[str, Batch] = {"briefbot": summarizer.summarize_many}
    systems: dict[str, System] = {
        "briefbot_single": summarizer.summarize,
        base: lead(k),
        "textrank": textrank(k),
        "lexrank": lexrank(k),
        **sumy_systems(k),
    }
    splitter = splitter_speed(rows, args.repeat)
    table, per_article = evaluate(systems, rows, max(args.repeat, 0), max(args.chunk, 1), batched)
    for name in table:
        if name != base:
            diff = np.subtract(per_article[name], per_article[base]).tolist()
            lo, hi = bootstrap_ci(diff)
            table[name][f"rouge1_diff_vs_{base}"] = float(np.mean(diff))
            table[name]["ci95_low"], table[name]["ci95_high"] = lo, hi
    if args.json:
        print(json.dumps({**table, "_splitter": splitter}, indent=2))
        return 0
    print(
        f"data: {args.data} ({len(rows)} articles), k={k}, briefbot budget {args.chars} chars; "
        f"art/s = fastest of {args.repeat} warm passes per chunk, cold/s = first pass; "
        f"briefbot: {args.chunk} articles per summarize_many call, briefbot_single: one "
        f"summarize call per article"
    )
    print(
        f"{'system':<13} {'R-1':>6} {'R-2':>6} {'R-Lsum':>6} {'art/s':>7} {'cold/s':>7} "
        f"{'chars':>5}  R-1 vs {base} [95% CI]"
    )
    for name, r in table.items():
        vs = ""
        if name != base:
            d = r[f"rouge1_diff_vs_{base}"]
            vs = f"{d:+.2f} [{r['ci95_low']:+.2f}, {r['ci95_high']:+.2f}]"
        print(
            f"{name:<13} {r['rouge1']:6.2f} {r['rouge2']:6.2f} {r['rougeLsum']:6.2f} "
            f"{r['articles_per_s']:7.0f} {r['cold_articles_per_s']:7.0f} "
            f"{r['mean_chars']:5.0f}  {vs}"
        )
    print(
        f"sentence splitting alone: split_sentences "
        f"{splitter['split_sentences_articles_per_s']:.0f} articles/s, lead_sentences "
        f"{splitter['lead_sentences_articles_per_s']:.0f} articles/s, bare sentencex "
        f"{splitter['sentencex_articles_per_s']:.0f} articles/s"
    )
    for ours in ("briefbot", "briefbot_single"):
        for name in ("sumy_lexrank", "sumy_textrank", "lexrank", "textrank"):
            if name in table:
                warm = table[ours]["articles_per_s"] / table[name]["articles_per_s"]
                cold = table[ours]["cold_articles_per_s"] / table[name]["cold_articles_per_s"]
                print(f"{ours} speed vs {name}: {warm:.1f}x warm, {cold:.1f}x cold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
