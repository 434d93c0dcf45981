"""Incremental story grouping: does a new article report an event we already have?

Single-pass clustering on TF-IDF vectors of title + lead (the title counts twice:
it is the densest statement of the event; numbers such as "498,000" or "5.4" are
kept whole and count twice too, since they tell one week's jobless figures from the
next; names, i.e. words capitalised in running text, count half as much again).
Each story keeps the sum of its members' unit vectors. A new article is compared
with the stories updated within ``window_hours`` of its publication time and joins
the best one when the score reaches ``threshold``; otherwise it starts a new story.

The score is the *average link*: the mean cosine between the article and the
story's members (the sum vector's dot product divided by the member count), which
does not reward a loose story the way a centroid cosine does. Short items (a
headline, a teaser) are scored partly against the story's core (its normalised
centroid) instead, and ``merge`` joins headline stories whose centroids meet: a
headline shares few words with any one member but many with the story as a whole.

Three guards keep precision, none tuned per dataset:
- Dense topics. The best candidate's score loses half the mean score of the next
  few candidates: an article that looks like many open stories (a debt-ceiling
  piece among weeks of them) needs a clear margin over its neighbours to join one.
- Drift cap. A full article must share some weight with the story's first article,
  so a story cannot walk, member by member, over its whole topic.
- Same outlet. An outlet rarely publishes two articles on one event within a few
  hours (an update keeps its URL and is handled upstream as an edit), so joining a
  story that already has an article from the same source within
  ``_SAME_SOURCE_HOURS`` costs ``_SAME_SOURCE_PENALTY`` (a deduction, not a ban).

Document frequencies are learned, never fixed: ``observe`` counts stored articles
the caller feeds in (the ingest pipeline does on start-up), and every ``add`` and
``load`` keeps counting. A vector is weighted with the frequencies known when it
arrives, so results depend on input order but are deterministic for a given order.

Speed: an inverted index over the centroids' terms finds candidates through the
article's rarest terms only, and just the best few candidates get an exact score,
so the cost per article stays flat as the number of open stories grows.
Figures and the commands that measure them: README ("Stories") and bench/stories.py.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from operator import mul

from bot.text.summarize import STOPWORDS

__all__ = ["DEFAULT_THRESHOLD", "StoryGrouper", "StoryState"]

logger = logging.getLogger(__name__)

# One value for every input (headlines and full articles alike), chosen on AllSides
# dev together with UCI titles dev; ``bench/stories.py --folds`` tunes it on half the
# stories of a file and scores the other half (0.15-0.19 come out there; 0.20 scores
# about the same). 0.21 keeps a margin for a cold start, where a handful of stored
# articles make two unrelated items that share two title words look alike.
DEFAULT_THRESHOLD = 0.21
_TITLE_WEIGHT = 2.0
_NUMBER_WEIGHT = 2.0  # a number's count is multiplied by this
_SAME_SOURCE_PENALTY = 0.1
_SAME_SOURCE_HOURS = 6.0
# Numbers whole ("498,000", "5.4", "19th"), then words ("covid19" is a word).
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*[A-Za-z]*|[A-Za-z][A-Za-z0-9]*")
_CACHE_LIMIT = 200_000  # distinct raw tokens remembered
_LEAD_CHARS = 1200
_PROBE_TERMS = 10  # highest-weight (rarest) terms of an article, to find candidates
# A probe term shared by more open stories than this says nothing about which one the
# article belongs to; skipping it keeps the cost per article flat in a crowded window.
_POSTING_CAP = 200
_EXACT_CANDIDATES = 6  # candidates that get an exact score (the best and its rivals)
# IDF acts as if a background corpus of this many documents (none containing the
# term) had been seen: a cold start (a fresh install, a restart that reloads a few
# dozen stories) would otherwise call every shared word "common".
_PRIOR_DOCS = 100
_PRUNE_EVERY = 500  # adds between sweeps of stories far outside the window
# Short items (headlines, a teaser): an article with fewer than _SHORT_TERMS features
# is scored partly against the story's core (cosine with its normalised centroid,
# scaled by _CORE_SCALE) instead of the mean over members, in proportion to how short
# it is; full articles (20+ features) are scored exactly as before. Stories made of
# short items are merged by ``merge`` when their centroids reach _MERGE_COS.
_SHORT_TERMS = 20.0
_CORE_SCALE = 2.5
_MERGE_COS = 0.25
# Names (people, places, organisations): a word written with a capital counts
# _NAME_WEIGHT more ("Newsom", "Del Rio", "Yellen"; a capitalised stop word opening a
# sentence is dropped anyway), unless the part is in Title Case, i.e. at least
# _TITLE_CASE of its distinct words are capitalised, where capitals say nothing.
_NAME_WEIGHT = 0.5
_TITLE_CASE = 0.5
_CAPITAL = re.compile(r"[A-Z][A-Za-z0-9]*")
# Dense topics: the best story's score loses _RIVAL_WEIGHT times the mean score of the
# next _RIVALS candidates (missing ones count 0). An article that looks like many open
# stories (a weekly jobless figure among months of them) needs a clear margin to
# join one; an article with one close story is not held back.
_RIVAL_WEIGHT = 0.5
_RIVALS = 5
# Drift cap: a full article joins a story only if it shares at least _SEED_OVERLAP
# cosine with the story's first article, so a story cannot walk, member by member,
# across its whole topic. Headlines (which share few words) match the core instead.
_SEED_OVERLAP = 0.08


@dataclass(slots=True)
class StoryState:
    """What the grouper remembers about one story."""

    key: int
    first_seen: datetime
    last_updated: datetime
    doc_ids: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    centroid: dict[str, float] = field(default_factory=dict)  # sum of member vectors
    size: int = 0  # member vectors in the sum (loaded ones included)
    source_seen: dict[str, datetime] = field(default_factory=dict)  # latest per source
    norm2: float = 0.0  # squared norm of the centroid sum
    terms: int = 0  # features over all member vectors (short members: titles only)
    seed: dict[str, float] = field(default_factory=dict)  # the first member's vector


class StoryGrouper:
    """Assigns articles to stories, one at a time, in arrival order.

    Not thread-safe; give each process (or each ingest task) its own instance and
    seed it with ``load`` on start-up so a restart continues the open stories.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, window_hours: float = 48.0) -> None:
        if not 0.0 < threshold < 1.0 or window_hours <= 0:
            raise ValueError("grouping: need 0 < threshold < 1 and window_hours > 0")
        self.threshold = threshold
        self.window = timedelta(hours=window_hours)
        self._stories: dict[int, StoryState] = {}
        self._postings: dict[str, dict[int, StoryState]] = {}  # term -> stories with it
        self._df: Counter[str] = Counter()
        self._docs = 0
        self._next_key = 1
        self._latest: datetime | None = None
        self._adds_since_prune = 0
        self._merged: dict[int, int] = {}  # merged-away story key -> surviving key

    def __len__(self) -> int:
        return len(self._stories)

    @property
    def documents(self) -> int:
        """Articles counted in the document frequencies (observed, loaded, added)."""
        return self._docs

    def stories(self) -> Iterator[StoryState]:
        """Open stories (not yet pruned), in creation order."""
        return iter(self._stories.values())

    def prune(self, before: datetime) -> int:
        """Forget stories last updated before ``before``; returns how many.

        ``add`` calls it every few hundred articles with ``before`` two windows behind
        the newest article seen, so a long-running process keeps a bounded index. Only
        an article back-dated by more than a window could have joined a pruned story.
        """
        stale = [key for key, story in self._stories.items() if story.last_updated < before]
        for key in stale:
            story = self._stories.pop(key)
            for term in story.centroid:
                posting = self._postings.get(term)
                if posting is not None:
                    posting.pop(key, None)
                    if not posting:
                        del self._postings[term]
        if stale:
            # Merges into stories now gone would otherwise pile up for as long as the
            # process runs. (The word frequencies ``_df`` keep every word ever seen:
            # forgetting those of pruned stories cost 0.2-0.4 points of B-cubed F1 in
            # bench/stories.py, so they stay; they grow by the new words of a day.)
            self._merged = {
                old: new for old, new in self._merged.items() if self.resolve(new) in self._stories
            }
            logger.debug("grouping: pruned %d stories, %d open", len(stale), len(self._stories))
        return len(stale)

    def resolve(self, key: int) -> int:
        """The story ``key`` lives on as, after merges (itself if never merged)."""
        merged = self._merged
        while key in merged:
            key = merged[key]
        return key

    def merge(self) -> int:
        """Merge open stories of short items (headlines, teasers) whose centroids
        meet; returns how many stories were merged away."""
        stories = [
            st
            for st in self._stories.values()
            if st.size and st.norm2 > 0 and _short_weight(st.terms / st.size) > 0
        ]
        stories.sort(key=lambda st: -st.size)
        done = 0
        for big in stories:
            if big.key not in self._stories:
                continue
            nb = math.sqrt(big.norm2)
            top = sorted(big.centroid, key=big.centroid.__getitem__, reverse=True)[:_PROBE_TERMS]
            cands: set[int] = set()
            for t in top:
                cands.update(self._postings.get(t, {}))
            for key in sorted(cands):
                other = self._stories.get(key)
                if other is None or other is big or other.size > big.size or other.norm2 <= 0:
                    continue
                if _short_weight(other.terms / other.size) <= 0:
                    continue
                if (
                    other.first_seen > big.last_updated + self.window
                    or big.first_seen > other.last_updated + self.window
                ):
                    continue
                get = big.centroid.get
                dot = sum(w * get(t, 0.0) for t, w in other.centroid.items())
                cos = dot / (nb * math.sqrt(other.norm2))
                if cos >= _MERGE_COS:
                    self._absorb(big, other)
                    nb = math.sqrt(big.norm2)
                    done += 1
        return done

    def _absorb(self, big: StoryState, other: StoryState) -> None:
        del self._stories[other.key]
        for term in other.centroid:
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(other.key, None)
        get = big.centroid.get
        dot = sum(w * get(t, 0.0) for t, w in other.centroid.items())
        big.norm2 += 2.0 * dot + other.norm2
        for term, w in other.centroid.items():
            if term not in big.centroid:
                self._postings.setdefault(term, {})[big.key] = big
            big.centroid[term] = get(term, 0.0) + w
        big.size += other.size
        big.terms += other.terms
        big.doc_ids.extend(other.doc_ids)
        big.sources.extend(s for s in other.sources if s not in big.sources)
        for src, seen in other.source_seen.items():
            mine = big.source_seen.get(src)
            big.source_seen[src] = seen if mine is None else max(mine, seen)
        big.first_seen = min(big.first_seen, other.first_seen)
        big.last_updated = max(big.last_updated, other.last_updated)
        self._merged[other.key] = big.key

    def load(
        self,
        story_key: int,
        title: str,
        text: str,
        last_updated: datetime,
        first_seen: datetime | None = None,
        source: str | None = None,
    ) -> None:
        """Seed an existing story (e.g. from the database) so new articles can join it.

        Call it once per member article (with its ``source``, so the same-outlet prior
        holds after a restart), or once with the story's title and summary. Later
        ``add`` calls never reuse ``story_key`` for a new story.
        """
        vec = self._vectorise(title, text)
        story = self._stories.get(story_key)
        if story is None:
            story = StoryState(story_key, first_seen or last_updated, last_updated)
            self._stories[story_key] = story
        self._join(story, vec, last_updated)
        if source is not None:
            if source not in story.sources:
                story.sources.append(source)
            seen = story.source_seen.get(source)
            story.source_seen[source] = last_updated if seen is None else max(seen, last_updated)
        self._next_key = max(self._next_key, story_key + 1)

    def add(self, doc_id: int, title: str, text: str, published_at: datetime, source: str) -> int:
        """Assign one article; returns its story key (new stories get new keys)."""
        vec = self._vectorise(title, text)
        best = self._best_story(vec, published_at, source)
        if best is None:
            best = StoryState(self._next_key, published_at, published_at)
            self._stories[best.key] = best
            self._next_key += 1
        self._join(best, vec, published_at)
        best.doc_ids.append(doc_id)
        if source not in best.sources:
            best.sources.append(source)
        seen = best.source_seen.get(source)
        best.source_seen[source] = published_at if seen is None else max(seen, published_at)
        self._latest = published_at if self._latest is None else max(self._latest, published_at)
        self._adds_since_prune += 1
        if self._adds_since_prune >= _PRUNE_EVERY:
            self._adds_since_prune = 0
            self.prune(self._latest - 2 * self.window)
        return best.key

    def observe(self, title: str, text: str) -> None:
        """Count a stored article in the document frequencies without grouping it.

        The caller feeds what the store holds (``bot.ingest.pipeline`` does on start-up)
        so term weights come from the corpus seen so far, not from a fixed list; every
        later ``add`` and ``load`` keeps counting, so they follow the corpus as it grows.
        """
        self._docs += 1
        self._df.update(self._features(title, text).keys())

    def similarity(self, story_key: int, title: str, text: str) -> float:
        """The score ``add`` would give this article for this story, before the
        same-source penalty: mean cosine with the members (diagnostics, tests)."""
        story = self._stories[story_key]
        vec = self._weights(self._features(title, text), counted=False)
        return _average_link(vec, story)

    # -- internals ---------------------------------------------------------------

    def _features(self, title: str, text: str) -> dict[str, float]:
        counts: dict[str, float] = {}
        get = counts.get
        canon = _CANON.__getitem__
        for part, weight in ((title, _TITLE_WEIGHT), (text[:_LEAD_CHARS], 1.0)):
            if not part:
                continue
            tokens = _TOKEN.findall(part)
            for tok, n in Counter(map(canon, tokens)).items():
                counts[tok] = get(tok, 0.0) + n * weight
            # In running text a capital marks a name; in a Title Case headline it does not.
            capitals = _CAPITAL.findall(part)
            if len(capitals) < _TITLE_CASE * len(tokens):
                name = weight * _NAME_WEIGHT
                for tok in map(canon, capitals):
                    counts[tok] = get(tok, 0.0) + name
        counts.pop("", None)
        for tok in counts:
            if tok[0] <= "9":  # a number
                counts[tok] *= _NUMBER_WEIGHT
        return counts

    def _vectorise(self, title: str, text: str) -> dict[str, float]:
        counts = self._features(title, text)
        self._docs += 1
        self._df.update(counts.keys())
        return self._weights(counts)

    def _weights(self, counts: dict[str, float], counted: bool = True) -> dict[str, float]:
        """Unit vector with sublinear tf and smoothed incremental idf.

        ``counted=False``: the article is not in the frequencies yet; weigh it as if it were.
        """
        extra = 0.0 if counted else 1.0
        n = self._docs + _PRIOR_DOCS + extra
        df = self._df
        log = math.log
        tf = _TF.__getitem__
        vec = {t: tf(c) * log(n / (df[t] + extra + 0.5)) for t, c in counts.items()}
        norm = math.sqrt(sum(map(mul, vec.values(), vec.values())))
        return {t: w / norm for t, w in vec.items() if w > 0} if norm > 0 else {}

    def _best_story(self, vec: dict[str, float], when: datetime, source: str) -> StoryState | None:
        if not vec:
            return None
        postings = self._postings
        lo, hi = when - self.window, when + self.window
        # Candidates: stories sharing one of the article's highest-weight terms,
        # ranked by the partial average link over those terms. Orders are fixed by
        # the input (dicts keep insertion order, sorts are stable): deterministic.
        probes = sorted(vec, key=vec.__getitem__, reverse=True)[:_PROBE_TERMS]
        partial: dict[int, float] = {}
        found: dict[int, StoryState] = {}
        stale: set[int] = set()
        get = partial.get
        for term in probes:
            posting = postings.get(term)
            if posting is None or len(posting) > _POSTING_CAP:
                continue
            weight = vec[term]
            for key, story in posting.items():
                known = get(key)
                if known is not None:
                    partial[key] = known + weight * story.centroid[term]
                elif key not in stale:
                    if lo <= story.last_updated <= hi:
                        partial[key] = weight * story.centroid[term]
                        found[key] = story
                    else:
                        stale.add(key)
        if not partial:
            return None
        for key, story in found.items():
            partial[key] /= story.size
        ranked = sorted(partial, key=partial.__getitem__, reverse=True)[:_EXACT_CANDIDATES]
        near = timedelta(hours=_SAME_SOURCE_HOURS)
        short = _short_weight(len(vec))
        scores: list[float] = []
        best: StoryState | None = None
        best_sim = -math.inf
        keys, values = vec.keys(), vec.values()
        core = short * _CORE_SCALE
        for key in ranked:
            story = found[key]
            # The average link (see ``_average_link``), inlined: this is the hot loop.
            sim = sum(map(mul, values, map(story.centroid.get, keys, repeat(0.0)))) / story.size
            if short > 0.0 and story.norm2 > 0.0:  # headlines: partly the normalised centroid
                sim = (1.0 - short) * sim + core * sim * story.size / math.sqrt(story.norm2)
            seen = story.source_seen.get(source)
            if seen is not None and abs(when - seen) <= near:
                sim -= _SAME_SOURCE_PENALTY
            scores.append(sim)
            if sim < best_sim or (sim == best_sim and best is not None and key > best.key):
                continue
            if short <= 0.0 and _dot(vec, story.seed) < _SEED_OVERLAP:
                continue  # drifted away from what the story was about
            best, best_sim = story, sim
        if best is None:
            return None
        scores.sort(reverse=True)
        if best_sim == scores[0]:
            del scores[0]
        else:
            scores.remove(best_sim)
        rivals = sum(max(0.0, x) for x in scores[:_RIVALS]) / _RIVALS
        return best if best_sim - _RIVAL_WEIGHT * rivals >= self.threshold else None

    def _join(self, story: StoryState, vec: dict[str, float], when: datetime) -> None:
        if not story.seed:
            story.seed = vec
        centroid = story.centroid
        story.norm2 += 2.0 * _dot(vec, centroid) + sum(map(mul, vec.values(), vec.values()))
        get = centroid.get
        for term, weight in vec.items():
            if term not in centroid:
                self._postings.setdefault(term, {})[story.key] = story
            centroid[term] = get(term, 0.0) + weight
        story.size += 1
        story.terms += len(vec)
        story.last_updated = max(story.last_updated, when)
        story.first_seen = min(story.first_seen, when)


class _Canonical(dict[str, str]):
    """Raw token -> feature: "" for a stop word, a light plural fold for words,
    separators dropped from numbers ("498,000" -> "498000"). A cache, so each distinct
    token is worked out once; a pure function of the token, so sharing it is safe."""

    def __missing__(self, key: str) -> str:
        raw = key.lower()
        if raw[0] <= "9":
            tok = raw.replace(",", "")
        elif len(raw) < 2 or raw in STOPWORDS:
            tok = ""
        elif len(raw) > 4 and raw[-1] == "s" and raw[-2] not in "sui":
            tok = raw[:-1]
        else:
            tok = raw
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[key] = tok
        return tok


_CANON = _Canonical()


class _SublinearTf(dict[float, float]):
    """Count -> 1 + log(count), cached: counts take few distinct values."""

    def __missing__(self, count: float) -> float:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        value = self[count] = 1.0 + math.log(count)
        return value


_TF = _SublinearTf()


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    return float(sum(map(mul, a.values(), map(b.get, a.keys(), repeat(0.0)))))


def _short_weight(terms: float) -> float:
    return max(0.0, 1.0 - terms / _SHORT_TERMS)


def _average_link(vec: dict[str, float], story: StoryState) -> float:
    """Mean cosine with the members: the dot product with their sum over their count."""
    if story.size <= 0:
        return 0.0
    # map() keeps the loop in C: this dot product is the grouper's hot spot.
    hits = map(story.centroid.get, vec.keys(), repeat(0.0))
    return float(sum(map(mul, vec.values(), hits))) / story.size
