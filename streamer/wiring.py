"""What a streamer sets up before it takes part: its NATS connection's options, the
buckets and the history stream, the data buckets' TTLs, and the write journal."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.js.kv import KeyValue

from schemas.buckets import (
    FUNDING_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    SPOT_BUCKET,
    bucket_specs,
    history_stream,
)
from streamer.buckets import ensure_buckets, ensure_stream
from streamer.health import health_ttl
from streamer.journal import WriteJournal
from streamer.settings import Settings

__all__ = ["CONNECT_OPTIONS", "data_ttls", "open_buckets", "open_journal"]

log = logging.getLogger("drift_stream.streamer")

CONNECT_OPTIONS: dict[str, Any] = {
    "max_reconnect_attempts": -1,
    "reconnect_time_wait": 0.5,
    # a dead link is noticed in seconds (the default is minutes), and nothing is buffered
    # while disconnected: a write then fails at once and is retried with fresh values,
    # never sent late after the lease may have moved
    "ping_interval": 2,
    "max_outstanding_pings": 3,
    "pending_size": 0,
}
"""nats-py options of the streamer's connection."""


def data_ttls(settings: Settings) -> dict[str, float]:
    """The data buckets' TTLs, by bucket."""
    return {
        FUNDING_BUCKET: settings.cache_ttl_funding,
        PRICES_BUCKET: settings.cache_ttl_price,
        MARKETS_BUCKET: settings.cache_ttl_markets,
        SPOT_BUCKET: settings.cache_ttl_spot,
    }


async def open_buckets(
    nc: Client, settings: Settings, status_interval_s: float
) -> dict[str, KeyValue]:
    """Every bucket (created, or bound and its flags aligned) and the history stream."""
    specs = bucket_specs(
        funding_ttl=settings.cache_ttl_funding,
        price_ttl=settings.cache_ttl_price,
        markets_ttl=settings.cache_ttl_markets,
        spot_ttl=settings.cache_ttl_spot,
        presence_ttl=settings.presence_ttl,
        lease_ttl=settings.lease_ttl,
        health_ttl=health_ttl(status_interval_s),
    )
    js = nc.jetstream()
    kvs = await ensure_buckets(js, specs, replicas=settings.kv_replicas, align=True)
    await ensure_stream(js, history_stream(), replicas=settings.kv_replicas, align=True)
    return kvs


def open_journal(settings: Settings, instance_id: str) -> WriteJournal | None:
    """The write journal `DRIFT_WRITE_JOURNAL` names; None when unset or it cannot be
    opened (logged: the streamer runs on without one)."""
    if settings.write_journal is None:
        return None
    try:
        return WriteJournal(Path(settings.write_journal), instance_id)
    except OSError as exc:
        log.error("cannot open the write journal %s: %s; writing none", settings.write_journal, exc)
        return None
