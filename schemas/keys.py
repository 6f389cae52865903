"""KV key formats: market, spot, market list, presence, lease and fence keys, and
their parsers.

Market keys are `<net>.<SYMBOL>` (a spot symbol keeps its case), the market list's
`<net>`, presence keys `<net>.<engine>.<consumer_id>` (the old `<net>.<consumer_id>` is
still read): `<engine>` is a token of its own because NATS permissions match whole
tokens (`streamer.auth`).
"""

from __future__ import annotations

from typing import NamedTuple

from schemas.errors import SchemaError
from schemas.subjects import (
    FENCE_TOKEN,
    LEADER_TOKEN,
    Network,
    preview,
    validate_consumer_id,
    validate_engine,
    validate_network,
    validate_spot_symbol,
    validate_symbol,
)

__all__ = [
    "ConsumerKey",
    "consumer_key",
    "consumer_wildcard",
    "engine_consumer_wildcard",
    "fence_key",
    "key_wildcard",
    "leader_key",
    "market_key",
    "markets_key",
    "parse_consumer_key",
    "parse_market_key",
    "spot_key",
]


def market_key(net: Network, symbol: str) -> str:
    """`<net>.<SYMBOL>`: key of a market in drift_funding and drift_prices."""
    return f"{validate_network(net)}.{validate_symbol(symbol)}"


def spot_key(net: Network, symbol: str) -> str:
    """`<net>.<Symbol>`: key of a spot market in drift_spot (the symbol's case kept)."""
    return f"{validate_network(net)}.{validate_spot_symbol(symbol)}"


def markets_key(net: Network) -> str:
    """`<net>`: key of the MarketList in drift_markets."""
    return validate_network(net)


def consumer_key(net: Network, engine: str, consumer_id: str) -> str:
    """`<net>.<engine>.<consumer_id>`: a consumer's presence key in drift_consumers;
    `engine` is its NATS user, the only one allowed to write it."""
    return f"{validate_network(net)}.{validate_engine(engine)}.{validate_consumer_id(consumer_id)}"


def consumer_wildcard(net: Network) -> str:
    """`<net>.>`: every presence key of one network, in both forms (`<net>.<engine>.<id>`
    and the old `<net>.<id>`)."""
    return f"{validate_network(net)}.>"


def engine_consumer_wildcard(engine: str) -> str:
    """`*.<engine>.*`: one engine's presence keys on every network (what it may write)."""
    return f"*.{validate_engine(engine)}.*"


def leader_key(net: Network) -> str:
    """`<net>`: the leader lease key in drift_leader."""
    return validate_network(net)


def fence_key(net: Network) -> str:
    """`_fence.<net>.leader`: the WriteFence record of one network in each data bucket.

    Three tokens, so no bucket's republish rule (`<net>.<SYMBOL>` or `<net>`) and no
    reader's `<net>.*` filter matches it."""
    return f"{FENCE_TOKEN}.{validate_network(net)}.{LEADER_TOKEN}"


def key_wildcard(net: Network) -> str:
    """`<net>.*`: every market key of one network, for watch/keys filters."""
    return f"{validate_network(net)}.*"


def _split_key(key: str) -> tuple[Network, str]:
    if not isinstance(key, str) or key.count(".") != 1:
        raise SchemaError(f"invalid KV key {preview(key)}: expected '<net>.<name>'")
    net, name = key.split(".")
    return validate_network(net), name


def parse_market_key(key: str) -> tuple[Network, str]:
    """Split a `<net>.<SYMBOL>` key into (network, symbol); SchemaError if malformed."""
    net, symbol = _split_key(key)
    return net, validate_symbol(symbol)


class ConsumerKey(NamedTuple):
    """A presence key, split. `engine` is None for the old `<net>.<consumer_id>` form."""

    network: Network
    engine: str | None
    consumer_id: str


def parse_consumer_key(key: str) -> ConsumerKey:
    """Split a presence key, `<net>.<engine>.<consumer_id>` or the old `<net>.<consumer_id>`
    (read for one more release); SchemaError if it is neither."""
    parts = key.split(".") if isinstance(key, str) else []
    if len(parts) not in (2, 3):
        raise SchemaError(
            f"invalid presence key {preview(key)}: expected '<net>.<engine>.<consumer_id>'"
            " (or the old '<net>.<consumer_id>')"
        )
    engine = validate_engine(parts[1]) if len(parts) == 3 else None
    return ConsumerKey(validate_network(parts[0]), engine, validate_consumer_id(parts[-1]))
