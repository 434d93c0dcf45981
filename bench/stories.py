"""Story-grouping benchmark: B-cubed and pairwise P/R/F1 against labelled stories.

Input JSONL ``{id, title, text, publisher, time, story}``; by default both dev sets,
AllSides (full articles) and UCI (headlines only), with one configuration.
Articles are fed to ``StoryGrouper`` one at a time, as the bot would see them:
sorted by time, ties in a seeded random order (the file lists each story's members
together, which would flatter a single-pass grouper).

Rows:
  briefbot            real times, default threshold and 48 h window.
  briefbot_jitter12h  each article's time moved by a seeded ±12 h: in AllSides every
                      member of a story carries the roundup's one timestamp, so the
                      real-time row gets help from time that real feeds never give.
  briefbot_timeblind  every article at the same instant: all stories are candidates
                      (a hard stress test: a 6-month corpus of recurring US-politics
                      topics in one window).
  titles_only         the same grouper on titles alone (text empty), real times.

Then a 10k-article timing: the file replicated with perturbed text (seeded word
drops) and new ids, all within one 48 h window so every open story is a candidate.

Finally, story summaries (bot.text.story_summary) against AllSides' neutral roundups
(``--records``, skipped when absent), on all stories and on two halves split by a hash
of the story id (half A tuned the summariser, half B is its held-out check);
``--summaries-only`` runs just that part.

With ``--folds``, a 2-fold check of the one global threshold: tuned on half the
stories (seeded split), scored on the other half.

The 10k timing counts this process's CPU time. With ``--baseline FILE`` (another
checkout's ``bot/text/grouping.py``) it runs that grouper too, alternating with this one
in the same process (best of 4 each), so the speed ratio survives a busy machine.

A summary table of B-cubed F1 per dataset closes the output.

Usage: python bench/stories.py [--data PATH ...] [--records PATH|none] [--json] [--folds]
                               [--baseline FILE] [--summaries-only]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _rouge import score as rouge  # noqa: E402

from bot.text.grouping import DEFAULT_THRESHOLD, StoryGrouper  # noqa: E402
from bot.text.sentences import split_sentences  # noqa: E402
from bot.text.story_summary import summarize_story  # noqa: E402

DATA_DIR = ROOT.parent / "shared" / "data" / "stories"
DEFAULT_DATA = [DATA_DIR / "allsides_dev.jsonl", DATA_DIR / "uci_titles_dev.jsonl"]
DEFAULT_RECORDS = DATA_DIR / "allsides_story_records.jsonl"
Row = dict[str, Any]


def bcubed(labels: Sequence[str], pred: Sequence[int]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 (Bagga & Baldwin 1998)."""
    clusters: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(pred):
        clusters[p].append(i)
    class_size = Counter(labels)
    prec = rec = 0.0
    for i, p in enumerate(pred):
        same = sum(1 for j in clusters[p] if labels[j] == labels[i])
        prec += same / len(clusters[p])
        rec += same / class_size[labels[i]]
    prec, rec = prec / len(pred), rec / len(pred)
    return prec, rec, _f1(prec, rec)


def pairwise(labels: Sequence[str], pred: Sequence[int]) -> tuple[float, float, float]:
    """Precision/recall/F1 over all pairs of articles put together."""
    both = Counter(zip(pred, labels, strict=True))
    together = pairs(Counter(pred).values())
    same_story = pairs(Counter(labels).values())
    correct = pairs(both.values())
    prec = correct / together if together else 1.0
    rec = correct / same_story if same_story else 1.0
    return prec, rec, _f1(prec, rec)


def pairs(counts: Iterable[int]) -> int:
    """Number of unordered pairs within groups of the given sizes."""
    return sum(c * (c - 1) // 2 for c in counts)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _when(row: Row) -> datetime:
    return datetime.fromisoformat(row["time"]).astimezone(UTC)


def run(
    rows: Sequence[Row],
    times: Sequence[datetime],
    titles_only: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    grouper_class: Any = StoryGrouper,
    clock: Any = time.perf_counter,
) -> Row:
    """Group ``rows`` in time order (seeded tie-break); return quality and speed."""
    tie = list(range(len(rows)))
    random.Random(0).shuffle(tie)
    order = sorted(range(len(rows)), key=lambda i: (times[i], tie[i]))
    grouper = grouper_class(threshold=threshold) if threshold else grouper_class()
    pred = [0] * len(rows)
    start = clock()
    for i in order:
        row = rows[i]
        text = "" if titles_only else row.get("text") or ""
        pred[i] = grouper.add(i, row["title"], text, times[i], row.get("publisher", ""))
    if hasattr(grouper, "merge"):  # a --baseline from before merge() has none
        grouper.merge()
    elapsed = clock() - start
    if hasattr(grouper, "resolve"):
        pred = [grouper.resolve(p) for p in pred]
    labels = [r["story"] for r in rows]
    bp, br, bf = bcubed(labels, pred)
    pp, pr, pf = pairwise(labels, pred)
    return {
        "bcubed_p": bp,
        "bcubed_r": br,
        "bcubed_f1": bf,
        "pairwise_p": pp,
        "pairwise_r": pr,
        "pairwise_f1": pf,
        "stories": len(set(pred)),
        "articles": len(rows),
        "articles_per_s": len(rows) / elapsed,
    }


FOLD_GRID = [round(0.15 + 0.01 * k, 2) for k in range(21)]


def two_fold(rows: Sequence[Row]) -> list[Row]:
    """Overfitting check for the one global threshold: split the stories in two halves
    (seeded), pick the threshold that maximises the mean B-cubed F1 of the real-time
    and time-blind runs on one half, and report both runs on the other half."""
    stories = sorted({r["story"] for r in rows})
    random.Random(3).shuffle(stories)
    halves = [set(stories[::2]), set(stories[1::2])]
    out: list[Row] = []
    for fold, tune_set in enumerate(halves):
        tune = [r for r in rows if r["story"] in tune_set]
        test = [r for r in rows if r["story"] not in tune_set]

        def score(part: Sequence[Row], thr: float) -> tuple[float, float]:
            real = [_when(r) for r in part]
            blind = [real[0]] * len(part)
            return (
                run(part, real, threshold=thr)["bcubed_f1"],
                run(part, blind, threshold=thr)["bcubed_f1"],
            )

        tuned = {thr: score(tune, thr) for thr in FOLD_GRID}
        best = max(FOLD_GRID, key=lambda t: (sum(tuned[t]), -t))
        held = score(test, best)
        fixed = score(test, DEFAULT_THRESHOLD)
        out.append(
            {
                "fold": fold,
                "tuned_threshold": best,
                "tune_real_f1": tuned[best][0],
                "tune_timeblind_f1": tuned[best][1],
                "test_real_f1": held[0],
                "test_timeblind_f1": held[1],
                "test_real_f1_default": fixed[0],
                "test_timeblind_f1_default": fixed[1],
            }
        )
    return out


def replicate(rows: Sequence[Row], n: int) -> tuple[list[Row], list[datetime]]:
    """``n`` articles: copies of ``rows`` with 15% of words dropped, within 48 h."""
    rng = random.Random(1)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    out: list[Row] = []
    for k in range(n):
        row = rows[k % len(rows)]
        copy = k // len(rows)
        if copy:
            words = [w for w in row["text"].split() if rng.random() > 0.15]
            row = {**row, "text": " ".join(words), "id": f"{row['id']}#{copy}"}
        out.append(row)
    times = [base + timedelta(hours=48 * k / n) for k in range(n)]
    return out, times


def story_summaries(rows: Sequence[Row], records: Path) -> dict[str, Row]:
    """ROUGE of story summaries against AllSides' neutral roundup (first paragraph) and
    of headlines against its issue title; members grouped by the true label, so this
    measures the summariser alone. Baselines: the first member's lead-3 and title, and
    the first sentence of each member in turn."""
    refs = {}
    for line in records.open(encoding="utf-8"):
        rec = json.loads(line)
        if rec.get("roundup"):
            refs[rec["story"]] = (rec["roundup"][0], rec.get("issue", ""))
    members: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    for i in order:
        row = rows[i]
        if row["story"] in refs:
            members[row["story"]].append((row["publisher"], row["title"], row["text"]))
    if not members:
        print(
            f"story summaries skipped: no story in {records.name} matches the data",
            file=sys.stderr,
        )
        return {}
    outputs: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    start = time.perf_counter()
    for story, group in members.items():
        headline, summary = summarize_story(group)
        outputs["briefbot"].append((summary, headline, *refs[story]))
    elapsed = time.perf_counter() - start
    for story, group in members.items():
        first = group[0]
        lead3 = " ".join(split_sentences(first[2])[:3])
        outputs["first_member_lead3"].append((lead3, first[1], *refs[story]))
        firsts = [split_sentences(body)[:1] for _, _, body in group]
        turn = " ".join(s for f in firsts for s in f)
        outputs["lead1_each_member"].append((turn, first[1], *refs[story]))
    halves = [summary_half(story) for story in members]
    table: dict[str, Row] = {}
    for name, outs in outputs.items():
        scores = [rouge(split_sentences(o) or [o], split_sentences(ref)) for o, _, ref, _ in outs]
        heads = [rouge([h], [issue])["rouge1"] for _, h, _, issue in outs]
        table[name] = {m: sum(x[m] for x in scores) / len(scores) for m in scores[0]}
        table[name]["headline_rouge1"] = sum(heads) / len(heads)
        table[name]["mean_chars"] = sum(len(o) for o, _, _, _ in outs) / len(outs)
        for half in "AB":
            part = [x for x, h in zip(scores, halves, strict=True) if h == half]
            table[name][f"half_{half}"] = {m: sum(x[m] for x in part) / len(part) for m in part[0]}
    table["briefbot"]["stories_per_s"] = len(members) / elapsed
    return table


def summary_half(story: str) -> str:
    """Half "A" (the summariser was tuned on it) or "B" (held out), from the story id."""
    return "AB"[hashlib.sha256(story.encode()).digest()[0] % 2]


def load_baseline(path: Path) -> Any:
    """``StoryGrouper`` from another checkout's grouping.py, imported under its own name."""
    spec = importlib.util.spec_from_file_location("baseline_grouping", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.StoryGrouper


def timing(rows: Sequence[Row], n: int, baseline: Any = None) -> Row:
    """CPU seconds of this process to group ``n`` replicated articles: best of 4 runs,
    alternating with the baseline grouper when given (at its own default threshold).
    CPU time, not wall time, so other jobs on a shared machine weigh less."""
    big_rows, big_times = replicate(rows, n)
    clock = time.process_time
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(4 if baseline is not None else 1):
        ours.append(n / run(big_rows, big_times, clock=clock)["articles_per_s"])
        if baseline is not None:
            base = run(big_rows, big_times, threshold=0, grouper_class=baseline, clock=clock)
            theirs.append(n / base["articles_per_s"])
    out: Row = {"articles": n, "seconds": min(ours), "articles_per_s": n / min(ours)}
    if theirs:
        out["baseline_seconds"] = min(theirs)
    return out


def evaluate(rows: Sequence[Row], folds: bool) -> dict[str, Row]:
    """The quality rows for one dataset (and the 2-fold check when asked)."""
    real = [_when(r) for r in rows]
    jitter_rng = random.Random(2)
    jittered = [t + timedelta(hours=jitter_rng.uniform(-12, 12)) for t in real]
    same = [real[0]] * len(rows)
    results: dict[str, Row] = {
        "briefbot": run(rows, real),
        "briefbot_jitter12h": run(rows, jittered),
        "briefbot_timeblind": run(rows, same),
        "titles_only": run(rows, real, titles_only=True),
    }
    if folds:
        results["two_fold"] = {"folds": two_fold(rows)}
    return results


def print_dataset(path: Path, rows: Sequence[Row], results: dict[str, Row], big: Row) -> None:
    print(f"data: {path} ({len(rows)} articles, {len({r['story'] for r in rows})} stories)")
    head = ("system", "B3 P", "B3 R", "B3 F1", "pair P", "pair R", "pair F1", "stories", "art/s")
    print("{:<20} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>8}".format(*head))
    for name, r in results.items():
        if "bcubed_p" not in r:
            continue
        print(
            f"{name:<20} {r['bcubed_p']:6.3f} {r['bcubed_r']:6.3f} {r['bcubed_f1']:6.3f} "
            f"{r['pairwise_p']:6.3f} {r['pairwise_r']:6.3f} {r['pairwise_f1']:7.3f} "
            f"{r['stories']:7d} {r['articles_per_s']:8.0f}"
        )
    line = (
        f"timing: {big['articles']} articles (replicated, perturbed, one 48 h window) grouped "
        f"in {big['seconds']:.2f} s CPU = {big['articles_per_s']:.0f} articles/s"
    )
    if "baseline_seconds" in big:
        line += (
            f"; baseline {big['baseline_seconds']:.2f} s in the same run "
            f"(ratio {big['seconds'] / big['baseline_seconds']:.2f})"
        )
    print(line)
    folds = results.get("two_fold", {}).get("folds", [])
    if folds:
        print(
            f"2-fold over stories (threshold tuned on one half by mean of real and "
            f"time-blind B3 F1, default {DEFAULT_THRESHOLD}):"
        )
        print(
            f"{'fold':<5} {'tuned':>6} {'tune real':>9} {'tune blind':>10} "
            f"{'test real':>9} {'test blind':>10} {'default real':>12} {'default blind':>13}"
        )
        for f in folds:
            print(
                f"{f['fold']:<5} {f['tuned_threshold']:6.2f} {f['tune_real_f1']:9.3f} "
                f"{f['tune_timeblind_f1']:10.3f} {f['test_real_f1']:9.3f} "
                f"{f['test_timeblind_f1']:10.3f} {f['test_real_f1_default']:12.3f} "
                f"{f['test_timeblind_f1_default']:13.3f}"
            )
    print()


def print_summary(table: dict[str, dict[str, Row]]) -> None:
    """One line per dataset: B-cubed F1 of each run, and the held-out halves."""
    print(f"summary, B3 F1 (one configuration, threshold {DEFAULT_THRESHOLD}):")
    print(
        f"{'data':<22} {'real':>6} {'jitter':>6} {'blind':>6} {'titles':>6} "
        f"{'fold test real':>15} {'fold test blind':>16}"
    )
    for name, results in table.items():
        folds = results.get("two_fold", {}).get("folds", [])
        fold_real = " / ".join(f"{f['test_real_f1_default']:.3f}" for f in folds) or "-"
        fold_blind = " / ".join(f"{f['test_timeblind_f1_default']:.3f}" for f in folds) or "-"
        print(
            f"{name:<22} {results['briefbot']['bcubed_f1']:6.3f} "
            f"{results['briefbot_jitter12h']['bcubed_f1']:6.3f} "
            f"{results['briefbot_timeblind']['bcubed_f1']:6.3f} "
            f"{results['titles_only']['bcubed_f1']:6.3f} {fold_real:>15} {fold_blind:>16}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA)
    parser.add_argument(
        "--records", type=Path, default=DEFAULT_RECORDS, help="roundups ('none': skip)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--big", type=int, default=10_000, help="articles in the timing run")
    parser.add_argument(
        "--folds", action="store_true", help="also the 2-fold threshold check (slower)"
    )
    parser.add_argument("--baseline", type=Path, help="another grouping.py to time in the same run")
    parser.add_argument(
        "--summaries-only", action="store_true", help="only the story summaries vs roundups"
    )
    args = parser.parse_args(argv)
    missing = [p for p in args.data if not p.exists()]
    if missing:
        print(f"no data at {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    baseline = load_baseline(args.baseline) if args.baseline else None
    table: dict[str, dict[str, Row]] = {}
    out: Row = {}
    for path in args.data:
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        if args.summaries_only:
            summaries = story_summaries(rows, args.records) if args.records.exists() else {}
            out[path.stem] = {"story_summary": summaries}
            if not args.json:
                print_summaries(args.records, summaries)
            continue
        results = evaluate(rows, args.folds)
        big = timing(rows, args.big, baseline)
        results[f"briefbot_{args.big // 1000}k_48h"] = big
        summaries = story_summaries(rows, args.records) if args.records.exists() else {}
        table[path.stem] = results
        out[path.stem] = {**results, "story_summary": summaries}
        if not args.json:
            print_dataset(path, rows, results, big)
            print_summaries(args.records, summaries)
    if args.json:
        print(json.dumps(out, indent=2))
    elif table:
        print_summary(table)
    return 0


def print_summaries(records: Path, summaries: dict[str, Row]) -> None:
    if not summaries:
        return
    print(f"story summaries vs AllSides roundups ({records.name}), true groups:")
    print(
        f"{'system':<20} {'R-1':>6} {'R-2':>6} {'R-Lsum':>6} {'head R-1':>8} {'chars':>6}"
        f"   {'half A (tuned) R-1/2/L':>22}   {'half B (held out) R-1/2/L':>25}"
    )
    for name, r in summaries.items():
        a, b = r["half_A"], r["half_B"]
        print(
            f"{name:<20} {r['rouge1']:6.2f} {r['rouge2']:6.2f} {r['rougeLsum']:6.2f} "
            f"{r['headline_rouge1']:8.2f} {r['mean_chars']:6.0f}"
            f"   {a['rouge1']:6.2f} {a['rouge2']:6.2f} {a['rougeLsum']:6.2f}"
            f"      {b['rouge1']:6.2f} {b['rouge2']:6.2f} {b['rougeLsum']:6.2f}"
        )
    print()


if __name__ == "__main__":
    raise SystemExit(main())
