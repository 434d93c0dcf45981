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
``merge`` also joins any two stories that are each other's nearest (mutual nearest
neighbours): single pass cannot put an article into a story that only arrives later.

Four guards keep precision, none tuned per dataset:
- Dense topics, article side. The best candidate's score loses half the mean score
  of the next few candidates: an article that looks like many open stories (a
  debt-ceiling piece among weeks of them) needs a clear margin to join one.
- Dense topics, story side (neighbourhood density). A story that scores well with
  many articles that do not join it sits in a crowded topic; its scores lose part of
  that mean, so it needs a closer match than a story that stands alone.
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

Speed: an inverted index over the centroids' terms (holding each story's weight for
the term) finds candidates through the article's rarest terms only, and just the
best few candidates get an exact score, so the cost per article stays flat as the
number of open stories grows. Per-term work runs in C (``map``, ``Counter``) where it
is a call per term anyway; sparse dot products are plain loops (see ``_dot``).
Figures and the commands that measure them: README ("Stories") and bench/stories.py.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from operator import add, mul, sub

from bot.text.tokens import ALNUM_BYTES, STOPWORDS

__all__ = ["DEFAULT_THRESHOLD", "StoryGrouper", "StoryState"]

logger = logging.getLogger(__name__)

# One value for every input (headlines and full articles alike), chosen on AllSides
# dev together with UCI titles dev; ``bench/stories.py --folds`` tunes it on half the
# stories of a file and scores the other half. 0.23 (0.21 before the pair merge) keeps
# the single pass precise and leaves recall to ``merge``; it also keeps a margin for a
# cold start, where a handful of stored articles make two unrelated items that share
# two title words look alike.
DEFAULT_THRESHOLD = 0.23
_TITLE_WEIGHT = 2.0
_NUMBER_WEIGHT = 2.0  # a number's count is multiplied by this
_SAME_SOURCE_PENALTY = 0.1
_SAME_SOURCE_HOURS = 6.0
# Tokens: numbers whole ("498,000", "5.4", "19th") and words ("covid19" is a word), i.e.
# r"\d+(?:[.,]\d+)*[A-Za-z]*|[A-Za-z][A-Za-z0-9]*", written to open with a character
# class so that the regex engine skips to where a token can start (an alternation at
# the top made it try a match at every character).
_TOKEN = re.compile(r"[A-Za-z\d](?:(?<=[A-Za-z])[A-Za-z0-9]*|\d*(?:[.,]\d+)*[A-Za-z]*)")
# Most text splits into the same tokens faster without a regex: ASCII letters and
# digits kept, every other character a space (``ALNUM_BYTES``: the summariser's word
# bytes with their case), str.split. That differs from _TOKEN only where digits join
# across "." or "," ("5.4"), a number's letters run into a digit ("4x4": "4x", "4") or
# a non-ASCII digit turns up (\d takes it); _JOINED finds those.
_JOINED = re.compile(r"\d(?:(?<=[^\x00-\x7f])|[.,]\d|[A-Za-z]+\d)")
_CACHE_LIMIT = 200_000  # distinct raw tokens remembered
_LEAD_CHARS = 1200
_PROBE_TERMS = 10  # highest-weight (rarest) terms of an article, to find candidates
# A probe term shared by more open stories than this says nothing about which one the
# article belongs to; skipping it keeps the cost per article flat in a crowded window.
_POSTING_CAP = 50
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
# Neighbourhood density (hubness): a story's score loses _DENSITY_WEIGHT times the mean
# score it got from articles that did not join it (see ``_density``), so a story in a
# crowded topic must match an article more closely than one that stands alone.
_DENSITY_WEIGHT = 0.3
_DENSITY_PRIOR = 3.0
# Pairs: ``merge`` joins two stories of any kind that are each other's nearest story
# (average link between their members, less _PAIR_RIVAL_WEIGHT times the mean of the
# next _RIVALS) when that reaches _PAIR_MIN and they have no outlet in common. Single
# pass cannot join an article to a story that only arrives later; this does.
_PAIR_MIN = 0.15
_PAIR_RIVAL_WEIGHT = 0.25


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
    # Neighbourhood density: the scores the story got from articles that did not join
    # it (their sum and count); see ``_density``.
    near_sum: float = 0.0
    near_count: int = 0


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
        self._sizes: dict[int, int] = {}  # story key -> size, for the candidate ranking
        # term -> {story key: the story's centroid sum}: the candidate search reads one
        # small dict per term and the term's weight from the centroid itself, so a join
        # writes to the postings only for terms new to the story.
        self._postings: defaultdict[str, dict[int, dict[str, float]]] = defaultdict(dict)
        self._df: Counter[str] = Counter()
        self._docs = 0
        self._next_key = 1
        self._latest: datetime | None = None
        self._adds_since_prune = 0
        self._merged: dict[int, int] = {}  # merged-away story key -> surviving key
        self._dirty: set[int] = set()  # stories changed since the last ``merge``

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
            del self._sizes[key]
            self._dirty.discard(key)
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
        """Merge stories that turn out to be one event; returns how many were merged
        away (``resolve`` maps their keys). Call it after each batch of ``add``.

        Two passes: stories of short items (headlines, teasers) whose centroids meet,
        then pairs of stories that are each other's nearest (``_merge_pairs``).
        """
        done = self._merge_headlines() + self._merge_pairs()
        self._dirty.clear()
        return done

    def _merge_headlines(self) -> int:
        """Merge open stories of short items whose centroids meet (``_MERGE_COS``)."""
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
                dot = _dot(other.centroid, big.centroid)
                cos = dot / (nb * math.sqrt(other.norm2))
                if cos >= _MERGE_COS:
                    self._absorb(big, other)
                    nb = math.sqrt(big.norm2)
                    done += 1
        return done

    def _merge_pairs(self) -> int:
        """Merge each story changed since the last merge with its nearest story when
        that story's nearest is it too and the pair scores ``_PAIR_MIN`` (see there).
        Mutual nearness is a local test: it asks nothing of a story's neighbourhood
        but that the two stand out in it for each other."""
        nearest: dict[int, tuple[int, float] | None] = {}

        def nearest_of(key: int) -> tuple[int, float] | None:
            if key not in nearest:
                nearest[key] = self._nearest(self._stories[key])
            return nearest[key]

        done = 0
        for key in sorted(self._dirty):
            found = nearest_of(key) if key in self._stories else None
            if found is None or found[1] < _PAIR_MIN or found[0] not in self._stories:
                continue
            back = nearest_of(found[0])
            if back is not None and back[0] == key:
                one, two = self._stories[key], self._stories[found[0]]
                self._absorb(*((one, two) if one.size >= two.size else (two, one)))
                done += 1
        return done

    def _nearest(self, story: StoryState) -> tuple[int, float] | None:
        """The story nearest to ``story`` (average link between their members), with
        its score less ``_PAIR_RIVAL_WEIGHT`` times the next ones; None if there is
        none within the window that shares no outlet with it."""
        scored: list[tuple[float, int]] = []
        sources = set(story.sources)
        for key in self._ranked(story.centroid):  # the sum ranks as the mean does
            other = self._stories[key]
            if other is story or not sources.isdisjoint(other.sources):
                continue
            if (
                other.first_seen > story.last_updated + self.window
                or story.first_seen > other.last_updated + self.window
            ):
                continue
            small, large = sorted((story.centroid, other.centroid), key=len)
            scored.append((_dot(small, large) / (story.size * other.size), -key))
            if len(scored) == _EXACT_CANDIDATES:
                break
        if not scored:
            return None
        scored.sort(reverse=True)
        best, key = scored[0]
        return -key, best - _PAIR_RIVAL_WEIGHT * _rivals([x for x, _ in scored[1:]])

    def _absorb(self, big: StoryState, other: StoryState) -> None:
        del self._stories[other.key]
        del self._sizes[other.key]
        for term in other.centroid:
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(other.key, None)
        big.norm2 += 2.0 * _dot(other.centroid, big.centroid) + other.norm2
        self._add_terms(big, other.centroid)
        big.size += other.size
        self._sizes[big.key] = big.size
        big.terms += other.terms
        big.near_sum += other.near_sum
        big.near_count += other.near_count
        self._dirty.discard(other.key)
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
        best, dot = self._best_story(vec, published_at, source)
        if best is None:
            best = StoryState(self._next_key, published_at, published_at)
            self._stories[best.key] = best
            self._next_key += 1
        self._join(best, vec, published_at, dot)
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
        """Weighted feature counts of title + lead (weights: see the module docstring).

        The lead's counts come straight from ``Counter`` (in C); the title, the names
        and the numbers, far fewer, are added on top of them. (All counts are whole or
        half numbers, so the order of the additions does not change them.)
        """
        if len(_CANON) >= _CACHE_LIMIT:  # here, so no article sees half of _NUMBERS
            _CANON.clear()
            _NUMBERS.clear()
        canon = _CANON.__getitem__
        counts: dict[str, float] = {}
        lead = text[:_LEAD_CHARS]
        if lead:
            lead_tokens = _tokens(lead)
            counts.update(Counter(map(canon, lead_tokens)))
            _add_names(counts, lead, len(lead_tokens), 1.0)
        title_tokens = _tokens(title)
        get = counts.get
        for tok in map(canon, title_tokens):
            counts[tok] = get(tok, 0.0) + _TITLE_WEIGHT
        _add_names(counts, title, len(title_tokens), _TITLE_WEIGHT)
        counts.pop("", None)
        for tok in _NUMBERS.intersection(counts):  # each key once: order does not matter
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
        extra = 0 if counted else 1
        # idf = log(n / (df + 0.5)) = log n - log(df + 0.5), the second from a cache;
        # map() keeps the per-term work in C (this runs once per article).
        dfs = map(self._df.__getitem__, counts)
        if extra:
            dfs = map(add, dfs, repeat(extra))
        log_dfs = map(_LOG_DF.__getitem__, dfs)
        idfs = map(sub, repeat(math.log(self._docs + _PRIOR_DOCS + extra)), log_dfs)
        weights = list(map(mul, map(_TF.__getitem__, counts.values()), idfs))
        norm = math.sqrt(sum(map(mul, weights, weights)))
        # Every weight is positive: tf > 0 (counts >= 0.5) and df < n (the prior adds 100).
        return (
            dict(zip(counts, map(mul, weights, repeat(1.0 / norm)), strict=True))
            if norm > 0
            else {}
        )

    def _best_story(
        self, vec: dict[str, float], when: datetime, source: str
    ) -> tuple[StoryState | None, float]:
        """The story the article joins, or None: the best-scoring candidate that passes
        the drift cap, if its margin over its rivals reaches the threshold; with the
        article's dot product with that story's centroid sum (0.0 for None), which
        ``_join`` needs too."""
        if not vec:
            return None, 0.0
        ranked = self._candidates(vec, when)
        if not ranked:
            return None, 0.0
        raw, dots = self._scores(vec, ranked, when, source)
        # The score less the neighbourhood density (``_density``, inlined: hot path).
        scores = [
            x - _DENSITY_WEIGHT * (st.near_sum / (st.near_count + _DENSITY_PRIOR))
            for x, st in zip(raw, ranked, strict=True)
        ]
        best: StoryState | None = None
        dot = 0.0
        # Best first, ties to the older story; the first that has not drifted wins.
        # (No join at all when even the best score is below the threshold.)
        order = [] if max(scores) < self.threshold else self._by_score(ranked, scores)
        short = len(vec) < _SHORT_TERMS
        for i in order:
            if short or _dot(vec, ranked[i].seed) >= _SEED_OVERLAP:
                best_sim = scores.pop(i)
                scores.sort(reverse=True)
                if best_sim - _RIVAL_WEIGHT * _rivals(scores) >= self.threshold:
                    best, dot = ranked[i], dots[i]
                break
        for story, sim in zip(ranked, raw, strict=True):
            if story is not best:  # a neighbour that the article did not join
                story.near_sum += max(0.0, sim)
                story.near_count += 1
        return best, dot

    @staticmethod
    def _by_score(ranked: list[StoryState], scores: list[float]) -> list[int]:
        """Indexes of ``ranked``, best score first, ties to the older story."""
        return sorted(range(len(ranked)), key=lambda i: (-scores[i], ranked[i].key))

    def _scores(
        self, vec: dict[str, float], ranked: list[StoryState], when: datetime, source: str
    ) -> tuple[list[float], list[float]]:
        """Each candidate's score: the average link (see ``_average_link``), for short
        items partly the cosine with the normalised centroid, less the same-outlet
        penalty; and each dot product with the centroid sum. The dot product is
        inlined (see ``_dot``): this is the grouper's hot loop."""
        near = timedelta(hours=_SAME_SOURCE_HOURS)
        short = _short_weight(len(vec))
        core = short * _CORE_SCALE
        items = vec.items()
        scores: list[float] = []
        dots: list[float] = []
        for story in ranked:
            centroid = story.centroid
            dot = 0.0
            for term, weight in items:
                if term in centroid:
                    dot += weight * centroid[term]
            dots.append(dot)
            sim = dot / story.size
            if short > 0.0 and story.norm2 > 0.0:
                sim = (1.0 - short) * sim + core * sim * story.size / math.sqrt(story.norm2)
            seen = story.source_seen.get(source)
            if seen is not None and abs(when - seen) <= near:
                sim -= _SAME_SOURCE_PENALTY
            scores.append(sim)
        return scores, dots

    def _add_terms(self, story: StoryState, vec: dict[str, float]) -> None:
        """Add ``vec`` to the story's centroid sum; list the story under its new terms."""
        centroid, postings, key = story.centroid, self._postings, story.key
        for term, weight in vec.items():
            if term in centroid:
                centroid[term] += weight
            else:  # (0.0 + weight is weight: the sums are those of centroid.get(t, 0.0))
                centroid[term] = weight
                postings[term][key] = centroid  # a new term's dict: from the defaultdict

    def _candidates(self, vec: dict[str, float], when: datetime) -> list[StoryState]:
        """The few open stories within the window that best share the article's
        highest-weight (rarest) terms, best first (see ``_ranked``).

        The window is checked on the ranked stories only, not on every story a probe
        term reaches: ``prune`` keeps stories more than two windows old out anyway.
        """
        lo, hi = when - self.window, when + self.window
        ranked: list[StoryState] = []
        for key in self._ranked(vec):
            story = self._stories[key]
            if lo <= story.last_updated <= hi:
                ranked.append(story)
                if len(ranked) == _EXACT_CANDIDATES:
                    break
        return ranked

    def _ranked(self, vec: dict[str, float]) -> list[int]:
        """Keys of the stories sharing one of the highest-weight terms of ``vec``,
        ranked by the partial average link over those terms. Orders are fixed by the
        input (dicts keep insertion order, sorts are stable): deterministic."""
        postings = self._postings
        partial: dict[int, float] = {}
        for term in sorted(vec, key=vec.__getitem__, reverse=True)[:_PROBE_TERMS]:
            posting = postings.get(term)
            if posting is None or len(posting) > _POSTING_CAP:
                continue
            weight = vec[term]
            for key, centroid in posting.items():  # the hottest loop: no calls in it
                if key in partial:
                    partial[key] += weight * centroid[term]
                else:
                    partial[key] = weight * centroid[term]
        sizes = self._sizes
        partial = {key: total / sizes[key] for key, total in partial.items()}
        return sorted(partial, key=partial.__getitem__, reverse=True)

    def _join(
        self, story: StoryState, vec: dict[str, float], when: datetime, dot: float | None = None
    ) -> None:
        """Add ``vec`` to the story; ``dot``: its dot product with the centroid sum, when
        the caller has it (``add`` does, from the scores)."""
        if not story.seed:
            story.seed = vec
        if dot is None:
            dot = _dot(vec, story.centroid)
        square = 0.0
        for weight in vec.values():
            square += weight * weight
        story.norm2 += 2.0 * dot + square
        self._add_terms(story, vec)
        story.size += 1
        self._sizes[story.key] = story.size
        story.terms += len(vec)
        self._dirty.add(story.key)
        story.last_updated = max(story.last_updated, when)
        story.first_seen = min(story.first_seen, when)


class _Canonical(dict[str, str]):
    """Raw token -> feature: "" for a stop word, a light plural fold for words,
    separators dropped from numbers ("498,000" -> "498000"). A cache, so each distinct
    token is worked out once; a pure function of the token, so sharing it is safe.
    It also notes the numbers in ``_NUMBERS``; ``_features`` clears both together,
    between articles, past ``_CACHE_LIMIT``."""

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
        self[key] = tok
        if tok[:1].isdigit():
            _NUMBERS.add(tok)
        return tok


# Features that are numbers (their first character is a digit), as ``_CANON`` made them:
# a set lookup per feature finds them where a test on each feature cost three calls.
_NUMBERS: set[str] = set()
_CANON = _Canonical()


class _SublinearTf(dict[float, float]):
    """Count -> 1 + log(count), cached: counts take few distinct values."""

    def __missing__(self, count: float) -> float:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        value = self[count] = 1.0 + math.log(count)
        return value


_TF = _SublinearTf()


class _LogDf(dict[int, float]):
    """Document frequency -> log(df + 0.5), cached: the idf's per-term logarithm."""

    def __missing__(self, df: int) -> float:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        value = self[df] = math.log(df + 0.5)
        return value


_LOG_DF = _LogDf()


def _tokens(part: str) -> list[str]:
    """``_TOKEN.findall(part)``, by a split where that gives the same (see _JOINED)."""
    if _JOINED.search(part) is None:
        return part.encode("ascii", "replace").translate(ALNUM_BYTES).decode("ascii").split()
    return _TOKEN.findall(part)


def _add_names(counts: dict[str, float], part: str, tokens: int, weight: float) -> None:
    """Count the capitalised words of ``part`` again, as names, unless it is Title Case:
    in running text a capital marks a name; in a Title Case headline it does not."""
    capitals = _CAPITAL.findall(part)
    if len(capitals) < _TITLE_CASE * tokens:
        name = weight * _NAME_WEIGHT
        get = counts.get
        for tok in map(_CANON.__getitem__, capitals):
            counts[tok] = get(tok, 0.0) + name


def _density(story: StoryState) -> float:
    """How well the story scores, on average, with articles that do not join it: high
    for a story in a crowded topic, which then looks close to everything nearby. The
    mean is shrunk towards 0 by ``_DENSITY_PRIOR`` observations, so one look is not
    enough to mark a story."""
    return story.near_sum / (story.near_count + _DENSITY_PRIOR)


def _rivals(scores: list[float]) -> float:
    """Mean of the best ``_RIVALS`` of ``scores`` (sorted, best first), counting
    negative and missing ones as 0."""
    return sum(max(0.0, x) for x in scores[:_RIVALS]) / _RIVALS


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    """Sparse dot product, summed in ``a``'s order. A plain loop: on CPython 3.11 dict
    ``in`` and ``[]`` and float ``*`` and ``+`` are specialised bytecodes, cheaper than
    the calls a ``map`` chain makes per term (callgrind: 19 k instructions against 33 k
    for an article and a story). Terms missing from ``b`` would add 0.0, which changes
    no sum, so the result is the ``sum()`` of all the products to the last bit."""
    total = 0.0
    for term, weight in a.items():
        if term in b:
            total += weight * b[term]
    return total


def _short_weight(terms: float) -> float:
    return max(0.0, 1.0 - terms / _SHORT_TERMS)


def _average_link(vec: dict[str, float], story: StoryState) -> float:
    """Mean cosine with the members: the dot product with their sum over their count."""
    if story.size <= 0:
        return 0.0
    return _dot(vec, story.centroid) / story.size
