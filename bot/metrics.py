"""The Prometheus registry: a leaf every layer may import to count what it does.

The registry is the project's own (not prometheus-client's global one), so importing a
library that registers its own collectors never leaks into ``/metrics``. Names follow
Prometheus conventions and are documented in ``docs/operations.md``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

FEEDS_POLLED = Counter(
    "briefbot_feeds_polled",
    "Feed polls finished, by outcome (parsed, unchanged, not_modified, failed, gone).",
    ["outcome"],
    registry=REGISTRY,
)
FEED_FAILURES = Counter(
    "briefbot_feed_failures",
    "Failed feed polls, by the fetcher's failure kind (dns, timeout, not_found, ...).",
    ["kind"],
    registry=REGISTRY,
)
ITEMS_INGESTED = Counter(
    "briefbot_items_ingested",
    "Feed and seed items stored, by result (new, updated, unchanged).",
    ["result"],
    registry=REGISTRY,
)
FETCH_SECONDS = Histogram(
    "briefbot_fetch_seconds",
    "Time to fetch one feed, successful or not.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30),
    registry=REGISTRY,
)
PARSE_SECONDS = Histogram(
    "briefbot_parse_seconds",
    "Time to parse one feed body (in the parse workers, measured from the main process).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
DIGESTS = Counter(
    "briefbot_digests",
    "Scheduled digests finished, by status (sent, empty, failed, dead).",
    ["status"],
    registry=REGISTRY,
)
COMMAND_SECONDS = Histogram(
    "briefbot_command_seconds",
    "Time to answer a chat command, by platform.",
    ["platform"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "briefbot_outbox_pending",
    "Deliveries claimed but not yet sent or given up (resumed by the leader).",
    registry=REGISTRY,
)
LEADER = Gauge(
    "briefbot_scheduler_leader",
    "1 when this process holds the scheduler leadership, else 0.",
    registry=REGISTRY,
)
ARTICLES = Gauge("briefbot_articles", "Articles stored.", registry=REGISTRY)
STORIES = Gauge("briefbot_stories", "Stories stored.", registry=REGISTRY)
FEEDS = Gauge("briefbot_feeds", "Feeds subscribed.", registry=REGISTRY)


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return bytes(generate_latest(REGISTRY))
