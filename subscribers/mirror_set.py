"""A client's mirrors, one per data bucket: the buckets bound, the Mirrors built on them,
a market's key in a mirror, and one watcher's view of a mirror.

`open_buckets` binds (or creates) the buckets a client uses and reads the TTLs they
really have; `build_mirrors` makes the funding, prices, markets and spot `Mirror`s
(`subscribers.mirror`: the last values from a KV snapshot, then the bucket's
republished subject); `perp_key` and `spot_key` turn a market as an engine names it
(symbol, index, a spot symbol in any case) into its key; `watch` gives one watcher a
mirror's live values, then every update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import NamedTuple, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from schemas import (
    FundingRate,
    MarketList,
    MarketModel,
    MarketSnapshot,
    SpotMarketSnapshot,
    funding_wildcard,
    market_wildcard,
    markets_subject,
    spot_wildcard,
    validate_spot_symbol,
    validate_symbol,
)
from schemas.buckets import (
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    MARKETS_BUCKET,
    PRICES_BUCKET,
    SPOT_BUCKET,
    BucketSpec,
)
from schemas.errors import SchemaError
from schemas.models.base import SchemaModel
from schemas.subjects import Network
from subscribers.buckets import BucketUnavailableError, ensure_bucket
from subscribers.mirror import Mirror, MirrorCounts

__all__ = ["MirrorSet", "build_mirrors", "open_buckets", "perp_key", "spot_key", "watch"]

log = logging.getLogger("drift_stream.client")
M = TypeVar("M", bound=SchemaModel)
W = TypeVar("W", bound=MarketModel)
_MAX_INDEX_DIGITS = 6  # market indexes are u16; int() refuses thousands of digits


class MirrorSet(NamedTuple):
    """One client's mirrors; `spot` is None when the streamer predates spot markets."""

    funding: Mirror[FundingRate]
    prices: Mirror[MarketSnapshot]
    markets: Mirror[MarketList]
    spot: Mirror[SpotMarketSnapshot] | None


async def open_buckets(
    js: JetStreamContext, specs: Mapping[str, BucketSpec], network: Network
) -> tuple[dict[str, KeyValue], dict[str, float]]:
    """The funding, prices, markets, consumers and (if it exists) spot buckets, and the
    TTL each really has, by bucket name."""
    kvs = {
        name: await ensure_bucket(js, spec)
        for name, spec in specs.items()
        if name in (FUNDING_BUCKET, PRICES_BUCKET, MARKETS_BUCKET, CONSUMERS_BUCKET)
    }
    try:
        kvs[SPOT_BUCKET] = await ensure_bucket(js, specs[SPOT_BUCKET])
    except BucketUnavailableError as exc:  # a streamer older than spot markets
        log.warning("no spot markets: %s", exc, extra={"network": network})
    # A bucket that already exists keeps its creator's TTLs: heartbeat and expire
    # by what the buckets really do, not by what this client asked for.
    ttls = {name: await _bucket_ttl(kv, specs[name]) for name, kv in kvs.items()}
    return kvs, ttls


async def _bucket_ttl(kv: KeyValue, spec: BucketSpec) -> float:
    default = spec.ttl_s
    assert default is not None
    try:
        ttl = (await kv.status()).ttl
    except Exception:  # status is best effort: fall back to the configured TTL
        return default
    return float(ttl) if ttl else default


def build_mirrors(
    kvs: Mapping[str, KeyValue],
    ttls: Mapping[str, float],
    nc: Client,
    network: Network,
    counts: MirrorCounts,
) -> MirrorSet:
    """A Mirror of each data bucket in `kvs` (not started: run each one's `run()`)."""

    def mirror(bucket: str, subject: str, model: type[M]) -> Mirror[M]:
        return Mirror(kvs[bucket], nc, subject, network, model, ttls[bucket], counts)

    return MirrorSet(
        funding=mirror(FUNDING_BUCKET, funding_wildcard(network), FundingRate),
        prices=mirror(PRICES_BUCKET, market_wildcard(network), MarketSnapshot),
        markets=mirror(MARKETS_BUCKET, markets_subject(network), MarketList),
        spot=(
            mirror(SPOT_BUCKET, spot_wildcard(network), SpotMarketSnapshot)
            if SPOT_BUCKET in kvs
            else None
        ),
    )


async def watch(mirror: Mirror[W], wanted: Callable[[W], bool]) -> AsyncGenerator[W, None]:
    """A mirror's wanted values: the live ones by market index, then every update."""
    queue: asyncio.Queue[W] = asyncio.Queue()
    mirror.listeners.add(queue)  # before the snapshot: nothing falls between
    try:
        for value in sorted((await mirror.cache.values()).values(), key=lambda v: v.market_index):
            if wanted(value):
                yield value
        while True:
            value = await queue.get()
            if wanted(value):
                yield value
    finally:
        mirror.listeners.discard(queue)


async def perp_key(markets: Mirror[MarketList], market: str | int) -> str | None:
    """The key (`<net>.<SYMBOL>`) of a perp market by symbol or index, an index looked up
    in the market list's mirror; None if malformed or unknown."""
    symbol: str | None
    if isinstance(market, int) or (isinstance(market, str) and market.isdigit()):
        # "①".isdigit() holds but int() refuses it: MarketList.get sorts that out
        listing = await markets.cache.get(markets.network)
        info = listing.get(market) if listing is not None else None
        symbol = None if info is None else info.symbol
    else:
        try:
            symbol = validate_symbol(market)
        except (SchemaError, ValueError):
            return None
    return None if symbol is None else f"{markets.network}.{validate_symbol(symbol)}"


async def spot_key(mirror: Mirror[SpotMarketSnapshot], market: str | int) -> str | None:
    """The mirror's key of a spot symbol (any case) or index; None if malformed."""
    if isinstance(market, str) and market.isascii() and market.isdigit():
        if len(market) > _MAX_INDEX_DIGITS:
            return None
        market = int(market)
    if isinstance(market, bool):
        return None
    if isinstance(market, int):
        values = (await mirror.cache.values()).items()
        return next((key for key, v in values if v.market_index == market), None)
    try:
        symbol = validate_spot_symbol(market)
    except (SchemaError, ValueError):
        return None
    return mirror.resolve(f"{mirror.network}.{symbol}")
