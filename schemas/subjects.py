"""Wire names: networks, subjects, the service, and the names inside them, validated
(the KV keys built from them are `schemas.keys`).

Subjects are `drift.<net>.<kind>[.<SYMBOL>]`; KV keys are `<net>[.<SYMBOL>]`, and presence
keys `<net>.<engine>.<consumer_id>` (the old `<net>.<consumer_id>` is still read). Names
that end up inside a subject or key are validated here, because a '.', '*', '>' or
whitespace in a symbol would silently change which subjects a message reaches.

A presence key's `<engine>` is its own token because NATS permissions match whole
tokens: `$KV.drift_consumers.*.<engine>.*` lets an engine's NATS user (named `<engine>`)
write its own keys and no other engine's (`streamer.auth`).

Perp symbols are upper case (`SOL-PERP`, whatever case they come in); spot symbols keep
Drift's on-chain case (`USDC`, `wBTC`, `jitoSOL`), and readers match them case-insensitively.
"""

from __future__ import annotations

import re
from typing import Literal

from schemas.errors import SchemaError

__all__ = [
    "API_ENDPOINTS",
    "API_TOKEN",
    "ERROR_CODE_HEADER",
    "ERROR_HEADER",
    "FENCE_TOKEN",
    "FUNDING_TOKEN",
    "KV_SUBJECT_PREFIX",
    "LEADER_TOKEN",
    "LEGACY_CONSUMER_KEYS",
    "MARKETS_TOKEN",
    "MARKET_TOKEN",
    "NETWORKS",
    "SERVICE_NAME",
    "SPOT_TOKEN",
    "STATUS_TOKEN",
    "SUBJECT_ROOT",
    "Endpoint",
    "Network",
    "api_prefix",
    "api_subject",
    "api_wildcard",
    "funding_subject",
    "funding_wildcard",
    "kv_subject",
    "leader_subject",
    "market_subject",
    "market_wildcard",
    "markets_subject",
    "network_wildcard",
    "preview",
    "spot_subject",
    "spot_wildcard",
    "status_subject",
    "validate_consumer_id",
    "validate_endpoint",
    "validate_engine",
    "validate_network",
    "validate_spot_symbol",
    "validate_symbol",
]

Network = Literal["mainnet", "devnet", "local"]
NETWORKS: tuple[Network, ...] = ("mainnet", "devnet", "local")

Endpoint = Literal["status", "markets", "funding", "reconnect", "spot"]
API_ENDPOINTS: tuple[Endpoint, ...] = ("status", "markets", "funding", "reconnect", "spot")

SERVICE_NAME = "drift-streamer"
"""The NATS micro service name (`nats micro ls`, `$SRV.PING.drift-streamer`)."""

# Headers of a micro error reply (set by nats.micro's ServiceError, read by clients).
ERROR_HEADER = "Nats-Service-Error"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"

SUBJECT_ROOT = "drift"
FUNDING_TOKEN = "funding"
MARKET_TOKEN = "market"
MARKETS_TOKEN = "markets"
SPOT_TOKEN = "spot"
STATUS_TOKEN = "status"
API_TOKEN = "api"
LEADER_TOKEN = "leader"
"""`drift.<net>.leader`: the leading streamer's heartbeat, which standby streamers hear."""
FENCE_TOKEN = "_fence"
KV_SUBJECT_PREFIX = "$KV"
LEGACY_CONSUMER_KEYS = "*.*"
"""The old presence keys, `<net>.<consumer_id>` (read for one more release)."""

# 32 is the size of Drift's on-chain `name` field, so every real symbol fits.
_SYMBOL_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CONSUMER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ENGINE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PREVIEW = 40


def preview(value: object) -> str:
    """Repr of a rejected value, cut short so an error message never carries a payload."""
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def validate_network(net: str) -> Network:
    """Return `net` if it is one of NETWORKS; raise SchemaError otherwise."""
    for known in NETWORKS:
        if net == known:
            return known
    raise SchemaError(f"unknown network {preview(net)}: expected one of {', '.join(NETWORKS)}")


def _checked_symbol(symbol: str, kind: str) -> str:
    if not isinstance(symbol, str):
        raise SchemaError(f"{kind} symbol must be a str, got {type(symbol).__name__}")
    if _SYMBOL_RE.fullmatch(symbol) is None:
        raise SchemaError(
            f"invalid {kind} symbol {preview(symbol)}: use 1-32 ASCII letters, digits, '-' or '_'"
            " (no '.', '*', '>' or whitespace)"
        )
    return symbol


def validate_symbol(symbol: str) -> str:
    """Return the market symbol in upper case; raise SchemaError if it can't be a subject token.

    Allowed: 1-32 ASCII letters, digits, '-' and '_' (Drift names such as '1MBONK-PERP').
    """
    # Checked before upper(): 'ß'.upper() == 'SS' would otherwise sneak through.
    return _checked_symbol(symbol, "market").upper()


def validate_spot_symbol(symbol: str) -> str:
    """Return the spot market symbol unchanged; raise SchemaError if it can't be a subject token.

    Allowed as for perps (1-32 ASCII letters, digits, '-' and '_'), but the case is kept:
    Drift names spot markets `USDC`, `wBTC`, `jitoSOL`, and the key is the name as on chain.
    """
    return _checked_symbol(symbol, "spot market")


def validate_consumer_id(consumer_id: str) -> str:
    """Return `consumer_id` unchanged; raise SchemaError if it can't be a KV key token.

    Allowed: 1-128 ASCII letters, digits, '-' and '_'; case is kept.
    """
    if not isinstance(consumer_id, str):
        raise SchemaError(f"consumer id must be a str, got {type(consumer_id).__name__}")
    if _CONSUMER_ID_RE.fullmatch(consumer_id) is None:
        raise SchemaError(
            f"invalid consumer id {preview(consumer_id)}: use 1-128 ASCII letters, digits,"
            " '-' or '_'"
        )
    return consumer_id


def validate_engine(engine: str) -> str:
    """Return `engine` unchanged; raise SchemaError if it can't be a KV key token.

    An engine is the `<engine>` token of its presence keys and the name of its NATS user.
    Allowed: 1-64 ASCII letters, digits, '-' and '_'; case is kept.
    """
    if not isinstance(engine, str):
        raise SchemaError(f"engine must be a str, got {type(engine).__name__}")
    if _ENGINE_RE.fullmatch(engine) is None:
        raise SchemaError(
            f"invalid engine {preview(engine)}: use 1-64 ASCII letters, digits, '-' or '_'"
        )
    return engine


def validate_endpoint(endpoint: str) -> Endpoint:
    """Return `endpoint` if it is one of API_ENDPOINTS; raise SchemaError otherwise."""
    for known in API_ENDPOINTS:
        if endpoint == known:
            return known
    raise SchemaError(
        f"unknown api endpoint {preview(endpoint)}: expected one of {', '.join(API_ENDPOINTS)}"
    )


# Subjects ---------------------------------------------------------------------------------


def _base(net: str) -> str:
    return f"{SUBJECT_ROOT}.{validate_network(net)}"


def funding_subject(net: Network, symbol: str) -> str:
    """`drift.<net>.funding.<SYMBOL>`: FundingRate updates of one market."""
    return f"{_base(net)}.{FUNDING_TOKEN}.{validate_symbol(symbol)}"


def market_subject(net: Network, symbol: str) -> str:
    """`drift.<net>.market.<SYMBOL>`: MarketSnapshot updates of one market."""
    return f"{_base(net)}.{MARKET_TOKEN}.{validate_symbol(symbol)}"


def spot_subject(net: Network, symbol: str) -> str:
    """`drift.<net>.spot.<Symbol>`: SpotMarketSnapshot updates of one spot market (case kept)."""
    return f"{_base(net)}.{SPOT_TOKEN}.{validate_spot_symbol(symbol)}"


def markets_subject(net: Network) -> str:
    """`drift.<net>.markets`: MarketList updates."""
    return f"{_base(net)}.{MARKETS_TOKEN}"


def status_subject(net: Network) -> str:
    """`drift.<net>.status`: StreamerStatus heartbeats."""
    return f"{_base(net)}.{STATUS_TOKEN}"


def leader_subject(net: Network) -> str:
    """`drift.<net>.leader`: the leader's LeaderBeat heartbeats (core NATS, no JetStream:
    they go on while a stream fails over), which standby streamers listen to."""
    return f"{_base(net)}.{LEADER_TOKEN}"


def api_prefix(net: Network) -> str:
    """`drift.<net>.api`: the micro service group prefix of every endpoint."""
    return f"{_base(net)}.{API_TOKEN}"


def api_subject(net: Network, endpoint: Endpoint) -> str:
    """`drift.<net>.api.<endpoint>`: a request-reply endpoint of the service."""
    return f"{api_prefix(net)}.{validate_endpoint(endpoint)}"


def funding_wildcard(net: Network) -> str:
    """`drift.<net>.funding.*`: FundingRate of every market."""
    return f"{_base(net)}.{FUNDING_TOKEN}.*"


def market_wildcard(net: Network) -> str:
    """`drift.<net>.market.*`: MarketSnapshot of every market."""
    return f"{_base(net)}.{MARKET_TOKEN}.*"


def spot_wildcard(net: Network) -> str:
    """`drift.<net>.spot.*`: SpotMarketSnapshot of every spot market."""
    return f"{_base(net)}.{SPOT_TOKEN}.*"


def api_wildcard(net: Network) -> str:
    """`drift.<net>.api.*`: every endpoint of the service."""
    return f"{api_prefix(net)}.*"


def network_wildcard(net: Network) -> str:
    """`drift.<net>.>`: everything published for one network."""
    return f"{_base(net)}.>"


def kv_subject(bucket: str, key: str) -> str:
    """`$KV.<bucket>.<key>`: the stream subject under a KV key (key may hold wildcards)."""
    return f"{KV_SUBJECT_PREFIX}.{bucket}.{key}"
