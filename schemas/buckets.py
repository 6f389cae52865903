"""JetStream KV bucket configs, as plain data so both sides create-or-bind the same buckets.

The streamer writes only the KV; each bucket's republish rule puts every value on the plain
subject of `schemas.subjects` (one write path, so cache and stream never disagree). The
nats side turns a BucketSpec into `KeyValueConfig(bucket=name, ttl=ttl_s, history=history,
republish=RePublish(src=republish_src, dest=republish_dest))`, and sets two flags of the
bucket's stream: `rollups` (`allow_rollup_hdrs`: off for presence, where a `Nats-Rollup`
header on one key would purge every engine's key) and `atomic` (`allow_atomic`: the data
buckets take a leader's fenced writes as atomic batches on a cluster).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from schemas.errors import SchemaError
from schemas.subjects import (
    FUNDING_TOKEN,
    MARKET_TOKEN,
    MARKETS_TOKEN,
    SPOT_TOKEN,
    SUBJECT_ROOT,
    kv_subject,
)

__all__ = [
    "BUCKET_NAMES",
    "CONSUMERS_BUCKET",
    "FUNDING_BUCKET",
    "HEALTH_BUCKET",
    "HISTORY_STREAM",
    "LEADER_BUCKET",
    "MARKETS_BUCKET",
    "PRICES_BUCKET",
    "SPOT_BUCKET",
    "BucketSpec",
    "StreamSpec",
    "bucket_specs",
    "history_stream",
]

FUNDING_BUCKET = "drift_funding"
PRICES_BUCKET = "drift_prices"
MARKETS_BUCKET = "drift_markets"
SPOT_BUCKET = "drift_spot"
CONSUMERS_BUCKET = "drift_consumers"
LEADER_BUCKET = "drift_leader"
# Not in the design's table: each streamer instance's heartbeat (`<net>.<instance_id>`,
# a StreamerStatus), read by `drift-stream streamer --check` (compose healthchecks).
HEALTH_BUCKET = "drift_health"
BUCKET_NAMES = (
    FUNDING_BUCKET,
    PRICES_BUCKET,
    MARKETS_BUCKET,
    SPOT_BUCKET,
    CONSUMERS_BUCKET,
    LEADER_BUCKET,
    HEALTH_BUCKET,
)

# nats-server's republish template tokens: the n-th '*' of the source subject.
_W1 = "{{wildcard(1)}}"
_W2 = "{{wildcard(2)}}"
_BUCKET_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_MAX_HISTORY = 64  # nats-server's limit for KV history


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """One KV bucket: name, TTL in seconds (None: no expiry), history, republish rule, and
    whether its stream takes rollup headers and atomic batches."""

    name: str
    ttl_s: float | None
    history: int = 1
    republish_src: str | None = None
    republish_dest: str | None = None
    description: str = ""
    rollups: bool = True
    atomic: bool = False

    def __post_init__(self) -> None:
        if _BUCKET_NAME_RE.fullmatch(self.name) is None:
            raise SchemaError(f"invalid bucket name {self.name!r}")
        if self.ttl_s is not None and not (math.isfinite(self.ttl_s) and self.ttl_s > 0):
            raise SchemaError(f"bucket {self.name}: ttl_s must be > 0 or None, got {self.ttl_s}")
        if not 1 <= self.history <= _MAX_HISTORY:
            raise SchemaError(f"bucket {self.name}: history must be 1..{_MAX_HISTORY}")
        if (self.republish_src is None) != (self.republish_dest is None):
            raise SchemaError(f"bucket {self.name}: republish needs both src and dest")

    @property
    def republishes(self) -> bool:
        """True when the bucket puts each value on a plain subject too."""
        return self.republish_src is not None


def bucket_specs(
    *,
    funding_ttl: float = 30,
    price_ttl: float = 10,
    markets_ttl: float = 60,
    spot_ttl: float = 30,
    presence_ttl: float = 15,
    lease_ttl: float = 15,
    health_ttl: float = 10,
) -> dict[str, BucketSpec]:
    """The design's buckets (with the spot bucket of its 2026-12 additions) and the health
    bucket, keyed by name; TTLs in seconds."""
    specs = (
        BucketSpec(
            name=FUNDING_BUCKET,
            ttl_s=funding_ttl,
            republish_src=kv_subject(FUNDING_BUCKET, "*.*"),
            republish_dest=f"{SUBJECT_ROOT}.{_W1}.{FUNDING_TOKEN}.{_W2}",
            description="FundingRate per market, key <net>.<SYMBOL>",
            atomic=True,
        ),
        BucketSpec(
            name=PRICES_BUCKET,
            ttl_s=price_ttl,
            republish_src=kv_subject(PRICES_BUCKET, "*.*"),
            republish_dest=f"{SUBJECT_ROOT}.{_W1}.{MARKET_TOKEN}.{_W2}",
            description="MarketSnapshot per market, key <net>.<SYMBOL>",
            atomic=True,
        ),
        BucketSpec(
            name=MARKETS_BUCKET,
            ttl_s=markets_ttl,
            republish_src=kv_subject(MARKETS_BUCKET, "*"),
            republish_dest=f"{SUBJECT_ROOT}.{_W1}.{MARKETS_TOKEN}",
            description="MarketList per network, key <net>",
            atomic=True,
        ),
        BucketSpec(
            name=SPOT_BUCKET,
            ttl_s=spot_ttl,
            republish_src=kv_subject(SPOT_BUCKET, "*.*"),
            republish_dest=f"{SUBJECT_ROOT}.{_W1}.{SPOT_TOKEN}.{_W2}",
            description="SpotMarketSnapshot per spot market, key <net>.<Symbol> (case kept)",
            atomic=True,
        ),
        BucketSpec(
            name=CONSUMERS_BUCKET,
            ttl_s=presence_ttl,
            description="ConsumerPresence heartbeats, key <net>.<engine>.<consumer_id>",
            rollups=False,
        ),
        BucketSpec(
            name=LEADER_BUCKET,
            ttl_s=lease_ttl,
            description="leader lease (value: instance id), key <net>",
        ),
        BucketSpec(
            name=HEALTH_BUCKET,
            ttl_s=health_ttl,
            description="StreamerStatus heartbeat per streamer instance, key <net>.<instance_id>",
        ),
    )
    return {spec.name: spec for spec in specs}


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A JetStream stream that keeps the history of one KV bucket (not a KV bucket): it
    sources the bucket's stream (`$KV.<bucket>....` messages under `source_subject`) and
    files them under `subject` (a republish-style template of the source's wildcards).

    Sourced, not captured from the plain subjects: a republished value carries its
    writer's headers, the write fence's `Nats-Expected-*` and an atomic batch's
    `Nats-Batch-*` among them, which a stream capturing those subjects would enforce
    (and refuse the value); sourcing drops them."""

    name: str
    source_stream: str
    source_subject: str
    subject: str
    max_age_s: float
    max_bytes: int
    description: str = ""


HISTORY_STREAM = "DRIFT_FUNDING_HISTORY"


def history_stream(*, days: float = 7.0, max_bytes: int = 1 << 30) -> StreamSpec:
    """Every FundingRate written to `drift_funding`, kept for `days` under its plain
    subject `drift.<net>.funding.<SYMBOL>` (the dashboard's charts read it)."""
    funding = bucket_specs()[FUNDING_BUCKET]
    assert funding.republish_src is not None
    assert funding.republish_dest is not None
    return StreamSpec(
        name=HISTORY_STREAM,
        source_stream=f"KV_{FUNDING_BUCKET}",
        source_subject=funding.republish_src,
        subject=funding.republish_dest,
        max_age_s=days * 86_400,
        max_bytes=max_bytes,
        description="FundingRate history per market, sourced from drift_funding",
    )
