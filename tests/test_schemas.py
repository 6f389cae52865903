"""The wire contract: names, buckets, models and the codec, validated strictly."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
from driftpy.constants.perp_markets import (
    devnet_perp_market_configs,
    mainnet_perp_market_configs,
)
from driftpy.constants.spot_markets import (
    devnet_spot_market_configs,
    mainnet_spot_market_configs,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import schemas
from schemas import (
    API_ENDPOINTS,
    BUCKET_NAMES,
    CONSUMERS_BUCKET,
    FUNDING_BUCKET,
    HEALTH_BUCKET,
    LEADER_BUCKET,
    MARKETS_BUCKET,
    NETWORKS,
    PRICES_BUCKET,
    SERVICE_NAME,
    SPOT_BUCKET,
    BucketSpec,
    ConsumerKey,
    ConsumerPresence,
    Endpoint,
    ErrorCode,
    ErrorReply,
    FundingRate,
    MarketList,
    MarketSnapshot,
    Network,
    PerpMarketInfo,
    ReconnectResult,
    SchemaError,
    SchemaModel,
    SpotMarketSnapshot,
    StreamerState,
    StreamerStatus,
    api_prefix,
    api_subject,
    api_wildcard,
    bucket_specs,
    consumer_key,
    consumer_wildcard,
    decode,
    encode,
    engine_consumer_wildcard,
    funding_subject,
    funding_wildcard,
    key_wildcard,
    kv_subject,
    leader_key,
    market_key,
    market_subject,
    market_wildcard,
    markets_key,
    markets_subject,
    network_wildcard,
    parse_consumer_key,
    parse_market_key,
    spot_key,
    spot_subject,
    spot_wildcard,
    status_subject,
    validate_consumer_id,
    validate_endpoint,
    validate_engine,
    validate_network,
    validate_spot_symbol,
    validate_symbol,
)

REL = 1e-12
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

# --------------------------------------------------------------------------- public API


def test_public_api_is_pinned() -> None:
    """`schemas.__all__` is exactly the documented public API, and every name exists."""
    assert schemas.__all__ == [
        "API_ENDPOINTS",
        "BUCKET_NAMES",
        "CONSUMERS_BUCKET",
        "ERROR_CODE_HEADER",
        "ERROR_HEADER",
        "FUNDING_BUCKET",
        "FUNDING_RATE_PRECISION",
        "HEALTH_BUCKET",
        "HOURS_PER_YEAR",
        "LEADER_BUCKET",
        "MARKETS_BUCKET",
        "NETWORKS",
        "PRICES_BUCKET",
        "PRICE_PRECISION",
        "SCHEMA_VERSION",
        "SERVICE_NAME",
        "SPOT_BUCKET",
        "BucketSpec",
        "ConsumerKey",
        "ConsumerPresence",
        "Endpoint",
        "Envelope",
        "ErrorCode",
        "ErrorReply",
        "FundingRate",
        "LeaderBeat",
        "MarketList",
        "MarketModel",
        "MarketSnapshot",
        "Network",
        "PerpMarketInfo",
        "ReconnectResult",
        "SchemaError",
        "SchemaModel",
        "SpotMarketSnapshot",
        "StreamerState",
        "StreamerStatus",
        "WireModel",
        "WriteFence",
        "annualized_rate_pct",
        "api_prefix",
        "api_subject",
        "api_wildcard",
        "bucket_specs",
        "consumer_key",
        "consumer_wildcard",
        "decode",
        "encode",
        "engine_consumer_wildcard",
        "fence_key",
        "funding_subject",
        "funding_wildcard",
        "hourly_rate_pct",
        "key_wildcard",
        "kv_subject",
        "leader_key",
        "leader_subject",
        "market_key",
        "market_subject",
        "market_wildcard",
        "markets_key",
        "markets_subject",
        "network_wildcard",
        "parse_consumer_key",
        "parse_market_key",
        "predicted_hourly_pct",
        "price_from_raw",
        "rate_pct",
        "select_twap",
        "spot_key",
        "spot_subject",
        "spot_wildcard",
        "status_subject",
        "token_amount",
        "utilization_pct",
        "validate_consumer_id",
        "validate_endpoint",
        "validate_engine",
        "validate_network",
        "validate_spot_symbol",
        "validate_symbol",
    ]
    for name in schemas.__all__:
        assert hasattr(schemas, name), name


def test_schemas_imports_neither_nats_nor_driftpy() -> None:
    """Importing schemas (in a fresh interpreter) loads no nats or driftpy module."""
    code = (
        "import sys, schemas\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('nats', 'driftpy', 'solana')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=_project_root())


def _project_root() -> str:
    return str(Path(schemas.__file__).resolve().parent.parent)


# --------------------------------------------------------------------------- names


def test_networks_and_service_name() -> None:
    """The networks, endpoints and service name are the design's, and the Literals agree."""
    assert NETWORKS == ("mainnet", "devnet", "local")
    assert get_args(Network) == NETWORKS
    assert API_ENDPOINTS == ("status", "markets", "funding", "reconnect", "spot")
    assert get_args(Endpoint) == API_ENDPOINTS
    assert SERVICE_NAME == "drift-streamer"


@pytest.mark.parametrize("net", NETWORKS)
def test_subjects_are_the_designs(net: Network) -> None:
    """Every subject and wildcard function produces the exact string of DESIGN.md."""
    assert funding_subject(net, "SOL-PERP") == f"drift.{net}.funding.SOL-PERP"
    assert market_subject(net, "SOL-PERP") == f"drift.{net}.market.SOL-PERP"
    assert markets_subject(net) == f"drift.{net}.markets"
    assert spot_subject(net, "jitoSOL") == f"drift.{net}.spot.jitoSOL"
    assert status_subject(net) == f"drift.{net}.status"
    assert api_prefix(net) == f"drift.{net}.api"
    for endpoint in API_ENDPOINTS:
        assert api_subject(net, endpoint) == f"drift.{net}.api.{endpoint}"
    assert funding_wildcard(net) == f"drift.{net}.funding.*"
    assert market_wildcard(net) == f"drift.{net}.market.*"
    assert spot_wildcard(net) == f"drift.{net}.spot.*"
    assert api_wildcard(net) == f"drift.{net}.api.*"
    assert network_wildcard(net) == f"drift.{net}.>"


@pytest.mark.parametrize("net", NETWORKS)
def test_kv_keys_are_the_designs(net: Network) -> None:
    """KV key functions produce `<net>.<SYMBOL>`, `<net>` and `<net>.<engine>.<consumer_id>`."""
    assert market_key(net, "SOL-PERP") == f"{net}.SOL-PERP"
    assert markets_key(net) == net
    assert spot_key(net, "wBTC") == f"{net}.wBTC"
    assert leader_key(net) == net
    assert consumer_key(net, "funding-engine", "engine-1_a") == f"{net}.funding-engine.engine-1_a"
    assert consumer_wildcard(net) == f"{net}.>"
    assert engine_consumer_wildcard("funding-engine") == "*.funding-engine.*"
    assert key_wildcard(net) == f"{net}.*"
    assert kv_subject("drift_funding", market_key(net, "SOL-PERP")) == (
        f"$KV.drift_funding.{net}.SOL-PERP"
    )


def test_symbols_are_normalised_to_upper_case() -> None:
    """A lower- or mixed-case symbol is accepted and upper-cased everywhere it is used."""
    assert validate_symbol("sol-perp") == "SOL-PERP"
    assert validate_symbol("1mBonk-Perp") == "1MBONK-PERP"
    assert funding_subject("mainnet", "sol-perp") == "drift.mainnet.funding.SOL-PERP"
    assert market_key("local", "btc-perp") == "local.BTC-PERP"


BAD_SYMBOLS = [
    "SOL.PERP",
    "SOL-PERP>",
    "SOL*",
    ">",
    "SOL PERP",
    " SOL-PERP",
    "SOL-PERP\n",
    "SOL\tPERP",
    "SOL/PERP",
    "",
    "ß",  # 'ß'.upper() == 'SS': must be rejected before upper-casing
    "SOLÉ",
    "A" * 33,
]


@pytest.mark.parametrize("symbol", BAD_SYMBOLS)
def test_bad_symbols_are_rejected(symbol: str) -> None:
    """A symbol that would break a subject or key raises SchemaError (a ValueError)."""
    with pytest.raises(SchemaError, match="invalid market symbol"):
        validate_symbol(symbol)
    with pytest.raises(ValueError, match="invalid market symbol"):
        funding_subject("mainnet", symbol)


def test_non_str_symbol_is_rejected() -> None:
    """A symbol that is not a str raises SchemaError, not AttributeError or TypeError."""
    with pytest.raises(SchemaError, match="must be a str"):
        validate_symbol(0)  # type: ignore[arg-type]


def test_every_real_driftpy_symbol_validates() -> None:
    """All of driftpy's mainnet and devnet perp symbols are valid and unchanged."""
    configs = [*mainnet_perp_market_configs, *devnet_perp_market_configs]
    assert len(mainnet_perp_market_configs) >= 80
    for config in configs:
        assert validate_symbol(config.symbol) == config.symbol
        assert funding_subject("mainnet", config.symbol).split(".")[3] == config.symbol
    symbols = {c.symbol for c in configs}
    assert {"1MBONK-PERP", "TRUMP-WIN-2024-BET", "SOL-PERP"} <= symbols


def test_spot_symbols_keep_their_case() -> None:
    """Spot symbols are Drift's names as on chain: the case is kept in subjects and keys."""
    for symbol in ("USDC", "wBTC", "jitoSOL", "PT-fragSOL-10JUL25", "JLP-1"):
        assert validate_spot_symbol(symbol) == symbol
    assert spot_subject("mainnet", "jitoSOL") == "drift.mainnet.spot.jitoSOL"
    assert spot_key("local", "wBTC") == "local.wBTC"


@pytest.mark.parametrize("symbol", BAD_SYMBOLS)
def test_bad_spot_symbols_are_rejected(symbol: str) -> None:
    """A spot symbol that would break a subject or key raises SchemaError, like a perp's."""
    with pytest.raises(SchemaError, match="invalid spot market symbol"):
        validate_spot_symbol(symbol)
    with pytest.raises(SchemaError, match="invalid spot market symbol"):
        spot_key("mainnet", symbol)
    with pytest.raises(SchemaError, match="must be a str"):
        validate_spot_symbol(0)  # type: ignore[arg-type]


def test_every_real_driftpy_spot_symbol_validates() -> None:
    """All of driftpy's mainnet spot symbols keep their case and no two differ only by it;
    devnet's placeholder "Default Market Name" (spaces) is refused, so never published."""
    assert len(mainnet_spot_market_configs) >= 60
    symbols = [c.symbol for c in mainnet_spot_market_configs]
    for symbol in symbols:
        assert validate_spot_symbol(symbol) == symbol
        assert spot_subject("mainnet", symbol).split(".")[3] == symbol
    assert len({s.upper() for s in symbols}) == len(symbols)  # case-insensitive lookups work
    assert {"USDC", "wBTC", "jitoSOL"} <= set(symbols)
    for config in devnet_spot_market_configs:
        if " " in config.symbol:
            with pytest.raises(SchemaError):
                validate_spot_symbol(config.symbol)
        else:
            assert validate_spot_symbol(config.symbol) == config.symbol


@pytest.mark.parametrize("consumer_id", ["a", "engine-1", "Engine_2", "x" * 128])
def test_good_consumer_ids_are_kept(consumer_id: str) -> None:
    """Consumer ids of letters, digits, '-' and '_' are accepted with their case."""
    assert validate_consumer_id(consumer_id) == consumer_id


@pytest.mark.parametrize("consumer_id", ["", "a.b", "a*", "a>", "a b", "é", "x" * 129])
def test_bad_consumer_ids_are_rejected(consumer_id: str) -> None:
    """Consumer ids that would break a KV key raise SchemaError."""
    with pytest.raises(SchemaError, match="invalid consumer id"):
        consumer_key("mainnet", "engine", consumer_id)


@pytest.mark.parametrize("engine", ["", "a.b", "a*", "a>", "a b", "é", "x" * 65, 7])
def test_bad_engines_are_rejected(engine: str) -> None:
    """An engine that is not one KV key token (it is also a NATS permission's token)
    raises SchemaError in keys and wildcards; a good one keeps its case."""
    with pytest.raises(SchemaError, match=r"invalid engine|must be a str"):
        consumer_key("mainnet", engine, "id-1")
    with pytest.raises(SchemaError, match=r"invalid engine|must be a str"):
        engine_consumer_wildcard(engine)
    assert validate_engine("Funding_engine-2") == "Funding_engine-2"


@pytest.mark.parametrize("net", ["testnet", "MAINNET", "", "mainnet.x", "*"])
def test_unknown_network_is_rejected(net: str) -> None:
    """Subject and key functions refuse a network outside NETWORKS."""
    with pytest.raises(SchemaError, match="unknown network"):
        validate_network(net)
    with pytest.raises(SchemaError, match="unknown network"):
        funding_subject(net, "SOL-PERP")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="unknown network"):
        markets_key(net)  # type: ignore[arg-type]


def test_unknown_endpoint_is_rejected() -> None:
    """api_subject refuses an endpoint the service does not have."""
    assert validate_endpoint("funding") == "funding"
    with pytest.raises(SchemaError, match="unknown api endpoint"):
        api_subject("mainnet", "restart")  # type: ignore[arg-type]


def test_parse_keys_round_trip() -> None:
    """parse_market_key/parse_consumer_key invert market_key/consumer_key; the old
    two-token presence key parses with no engine."""
    assert parse_market_key(market_key("devnet", "sol-perp")) == ("devnet", "SOL-PERP")
    parsed = parse_consumer_key(consumer_key("local", "dashboard", "eng-1"))
    assert parsed == ConsumerKey("local", "dashboard", "eng-1")
    assert (parsed.network, parsed.engine, parsed.consumer_id) == ("local", "dashboard", "eng-1")
    assert parse_consumer_key("mainnet.eng-1") == ConsumerKey("mainnet", None, "eng-1")


@pytest.mark.parametrize("key", ["mainnet", "testnet.SOL-PERP", ".", "x.", "local.a.b.c"])
def test_parse_bad_keys_raise_schema_error(key: str) -> None:
    """Malformed KV keys raise SchemaError, never IndexError or KeyError."""
    with pytest.raises(SchemaError):
        parse_market_key(key)
    with pytest.raises(SchemaError):
        parse_consumer_key(key)
    with pytest.raises(SchemaError, match="invalid KV key"):
        parse_market_key("mainnet.SOL.PERP")  # one token too many for a market
    for bad in ("local..id", "local.a b.id", "local.eng.", "local.*.id"):
        with pytest.raises(SchemaError):
            parse_consumer_key(bad)


# --------------------------------------------------------------------------- buckets


def test_bucket_specs_match_the_design() -> None:
    """The design's buckets (spot included) and the health bucket have their names,
    default TTLs, history 1 and republish rules."""
    specs = bucket_specs()
    assert tuple(specs) == BUCKET_NAMES
    assert BUCKET_NAMES == (
        "drift_funding",
        "drift_prices",
        "drift_markets",
        "drift_spot",
        "drift_consumers",
        "drift_leader",
        "drift_health",
    )
    assert {name: spec.ttl_s for name, spec in specs.items()} == {
        FUNDING_BUCKET: 30,
        PRICES_BUCKET: 10,
        MARKETS_BUCKET: 60,
        SPOT_BUCKET: 30,
        CONSUMERS_BUCKET: 15,
        LEADER_BUCKET: 15,
        HEALTH_BUCKET: 10,
    }
    assert all(spec.history == 1 for spec in specs.values())
    funding, prices, markets = specs[FUNDING_BUCKET], specs[PRICES_BUCKET], specs[MARKETS_BUCKET]
    assert (funding.republish_src, funding.republish_dest) == (
        "$KV.drift_funding.*.*",
        "drift.{{wildcard(1)}}.funding.{{wildcard(2)}}",
    )
    assert (prices.republish_src, prices.republish_dest) == (
        "$KV.drift_prices.*.*",
        "drift.{{wildcard(1)}}.market.{{wildcard(2)}}",
    )
    assert (markets.republish_src, markets.republish_dest) == (
        "$KV.drift_markets.*",
        "drift.{{wildcard(1)}}.markets",
    )
    assert (specs[SPOT_BUCKET].republish_src, specs[SPOT_BUCKET].republish_dest) == (
        "$KV.drift_spot.*.*",
        "drift.{{wildcard(1)}}.spot.{{wildcard(2)}}",
    )
    for name in (CONSUMERS_BUCKET, LEADER_BUCKET, HEALTH_BUCKET):
        assert not specs[name].republishes
        assert specs[name].republish_src is None
        assert specs[name].republish_dest is None


def test_bucket_ttls_can_be_overridden() -> None:
    """Settings override every TTL through bucket_specs' keyword arguments."""
    specs = bucket_specs(
        funding_ttl=31,
        price_ttl=11.5,
        markets_ttl=61,
        spot_ttl=32,
        presence_ttl=16,
        lease_ttl=17,
        health_ttl=9,
    )
    assert [spec.ttl_s for spec in specs.values()] == [31, 11.5, 61, 32, 16, 17, 9]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "b", "ttl_s": 0},
        {"name": "b", "ttl_s": -1},
        {"name": "b", "ttl_s": float("inf")},
        {"name": "b", "ttl_s": 1, "history": 0},
        {"name": "b", "ttl_s": 1, "republish_src": "$KV.b.*"},
        {"name": "b", "ttl_s": 1, "republish_dest": "x"},
        {"name": "b.c", "ttl_s": 1},
    ],
)
def test_inconsistent_bucket_spec_is_rejected(kwargs: dict[str, Any]) -> None:
    """A BucketSpec with a bad TTL, history, name or half a republish rule raises SchemaError."""
    with pytest.raises(SchemaError):
        BucketSpec(**kwargs)


def _republish(spec: BucketSpec, subject: str) -> str | None:
    """Expand nats-server's republish rule for `subject` (None when src does not match)."""
    assert spec.republish_src is not None
    assert spec.republish_dest is not None
    pattern, tokens = spec.republish_src.split("."), subject.split(".")
    if len(pattern) != len(tokens):
        return None
    wildcards: list[str] = []
    for want, got in zip(pattern, tokens, strict=True):
        if want == "*":
            wildcards.append(got)
        elif want != got:
            return None
    return re.sub(
        r"\{\{wildcard\((\d+)\)\}\}", lambda m: wildcards[int(m[1]) - 1], spec.republish_dest
    )


SOME_SYMBOLS = ["SOL-PERP", "1MBONK-PERP", "TRUMP-WIN-2024-BET", "W-PERP"]


@pytest.mark.parametrize("net", NETWORKS)
def test_republish_puts_kv_values_on_the_plain_subjects(net: Network) -> None:
    """Each bucket's republish rule maps a KV key's subject to exactly the subject function's."""
    specs = bucket_specs()
    for symbol in SOME_SYMBOLS:
        key = market_key(net, symbol)
        assert _republish(specs[FUNDING_BUCKET], kv_subject(FUNDING_BUCKET, key)) == (
            funding_subject(net, symbol)
        )
        assert _republish(specs[PRICES_BUCKET], kv_subject(PRICES_BUCKET, key)) == (
            market_subject(net, symbol)
        )
        # a rule only matches its own bucket
        assert _republish(specs[FUNDING_BUCKET], kv_subject(PRICES_BUCKET, key)) is None
    assert _republish(specs[MARKETS_BUCKET], kv_subject(MARKETS_BUCKET, markets_key(net))) == (
        markets_subject(net)
    )
    for symbol in ("USDC", "wBTC", "jitoSOL"):
        spot = kv_subject(SPOT_BUCKET, spot_key(net, symbol))
        assert _republish(specs[SPOT_BUCKET], spot) == spot_subject(net, symbol)
        assert _republish(specs[FUNDING_BUCKET], spot) is None


@settings(max_examples=200, deadline=None)
@given(
    net=st.sampled_from(NETWORKS),
    symbol=st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
)
def test_republish_mapping_holds_for_any_valid_symbol(net: Network, symbol: str) -> None:
    """For any valid symbol, republish of its funding, price and spot keys gives the plain
    subjects (a spot symbol with its case)."""
    specs = bucket_specs()
    key = market_key(net, symbol)
    assert _republish(specs[FUNDING_BUCKET], kv_subject(FUNDING_BUCKET, key)) == (
        funding_subject(net, symbol)
    )
    assert _republish(specs[PRICES_BUCKET], kv_subject(PRICES_BUCKET, key)) == (
        market_subject(net, symbol)
    )
    spot = kv_subject(SPOT_BUCKET, spot_key(net, symbol))
    assert _republish(specs[SPOT_BUCKET], spot) == spot_subject(net, symbol)


# --------------------------------------------------------------------------- models

FUNDING = FundingRate(
    network="mainnet",
    slot=312_000_000,
    ts=1_700_000_000.25,
    market_index=0,
    symbol="SOL-PERP",
    last_funding_rate=1_250_000,
    last_funding_rate_long=1_250_000,
    last_funding_rate_short=1_200_000,
    last_funding_rate_ts=1_699_999_200,
    oracle_twap=150_000_000,
    hourly_rate_pct=0.0008333333333333334,
    annualized_rate_pct=7.305,
    avg_24h_hourly_rate_pct=-0.0001,
    predicted_long_hourly_pct=0.000833,
    predicted_short_hourly_pct=0.0008,
    funding_period_s=3600,
    epoch=7,
)
SNAPSHOT = MarketSnapshot(
    network="devnet",
    slot=5,
    ts=1.5,
    market_index=1,
    symbol="BTC-PERP",
    oracle_price=60_000.5,
    oracle_price_raw=60_000_500_000,
    oracle_slot=4,
    mark_price=60_001.0,
    bid_price=60_000.0,
    ask_price=60_002.0,
    open_interest=12.5,
    open_interest_long=6.5,
    open_interest_short=6.0,
    status="active",
    contract_type="perpetual",
    epoch=2,
)
SPOT = SpotMarketSnapshot(
    network="mainnet",
    slot=312_000_001,
    ts=1_700_000_000.5,
    market_index=3,
    symbol="wBTC",
    market_slot=311_999_990,
    oracle_slot=312_000_000,
    decimals=8,
    oracle="9BtmpDeMXgR7YTtsm3iR1a2JgMxqoTmdbSJTWeSSu7Sf",
    oracle_source="PythLazer",
    oracle_price=97_000.125,
    oracle_price_raw=97_000_125_000,
    deposit_apr_pct=0.0123,
    borrow_apr_pct=0.5,
    utilization_pct=4.5,
    deposit_rate_raw=123,
    borrow_rate_raw=5_000,
    utilization_raw=45_000,
    total_deposits=1_234.5,
    total_borrows=55.5,
    total_deposits_raw=123_450_000_000,
    total_borrows_raw=5_550_000_000,
    status="active",
    epoch=7,
)
MARKET_INFO = PerpMarketInfo(
    market_index=4,
    symbol="1MBONK-PERP",
    status="active",
    oracle="3m6i4RFWEDw2Ft4tFHPJtYgmpPe21k56M3FHeWYrgGBz",
    oracle_source="PythLazer",
)
MARKET_LIST = MarketList(
    network="local",
    slot=9,
    ts=2.0,
    epoch=3,
    markets=(
        PerpMarketInfo(market_index=0, symbol="SOL-PERP"),
        MARKET_INFO,
        PerpMarketInfo(market_index=36, symbol="TRUMP-WIN-2024-BET", status="settlement"),
    ),
)
STATUS = StreamerStatus(
    network="mainnet",
    slot=10,
    ts=3.0,
    state=StreamerState.RUNNING,
    instance_id="host-1234",
    leader="host-1234",
    epoch=7,
    consumers=2,
    markets=85,
    spot_markets=63,
    feed_age_s=0.4,
    last_slot=10,
    reconnects=1,
    rpc_errors=3,
    last_error="429 Too Many Requests",
    markets_skipped=["perp 5"],
    unpriced_markets=["SOL-PERP"],
    config_error="unknown markets NOPE-PERP; valid: SOL-PERP",
    rpc_requests=7,
    rpc_rate_limited=1,
    version="0.1.0",
)
PRESENCE = ConsumerPresence(
    consumer_id="engine-1",
    name="funding arb",
    network="mainnet",
    pid=4321,
    host="box",
    started_ts=100.0,
    ts=130.0,
)
RECONNECT = ReconnectResult(network="local", ts=4.0, ok=False, took_ms=12.5, error="timeout")
ERROR = ErrorReply(code=ErrorCode.NOT_FOUND, error="unknown market: FOO-PERP")

# Minimal instances: every optional field left at its default.
MINIMAL: list[SchemaModel] = [
    FundingRate(
        network="local",
        slot=0,
        ts=0,
        market_index=0,
        symbol="SOL-PERP",
        last_funding_rate=0,
        last_funding_rate_ts=0,
        oracle_twap=0,
        funding_period_s=3600,
        epoch=0,
    ),
    MarketSnapshot(
        network="local",
        slot=0,
        ts=0,
        market_index=0,
        symbol="SOL-PERP",
        oracle_price=0,
        oracle_price_raw=0,
        open_interest=0,
        status="initialized",
        epoch=0,
    ),
    SpotMarketSnapshot(
        network="local",
        slot=0,
        ts=0,
        market_index=0,
        symbol="USDC",
        decimals=6,
        oracle_price=1.0,
        oracle_price_raw=1_000_000,
        total_deposits=0,
        total_borrows=0,
        total_deposits_raw=0,
        total_borrows_raw=0,
        status="active",
        epoch=0,
    ),
    PerpMarketInfo(market_index=0, symbol="SOL-PERP"),
    MarketList(network="local", slot=0, ts=0, epoch=0),
    StreamerStatus(
        network="local",
        slot=0,
        ts=0,
        state=StreamerState.STANDBY,
        instance_id="i",
        epoch=0,
        consumers=0,
        markets=0,
        version="0",
    ),
    ConsumerPresence(consumer_id="c", name="n"),
    ReconnectResult(network="local", ts=0, ok=True, took_ms=0),
    ErrorReply(code=503, error="not ready"),
]
FULL: list[SchemaModel] = [
    FUNDING,
    SNAPSHOT,
    SPOT,
    MARKET_INFO,
    MARKET_LIST,
    STATUS,
    PRESENCE,
    RECONNECT,
    ERROR,
]
SAMPLES = FULL + MINIMAL
MODEL_TYPES: list[type[SchemaModel]] = [type(m) for m in FULL]


def _id(model: object) -> str:
    return type(model).__name__


# The wire contract, written out: the JSON keys of each model.
WIRE_KEYS: dict[type[SchemaModel], set[str]] = {
    FundingRate: {
        "v",
        "network",
        "ts",
        "slot",
        "market_index",
        "symbol",
        "last_funding_rate",
        "last_funding_rate_long",
        "last_funding_rate_short",
        "last_funding_rate_ts",
        "oracle_twap",
        "hourly_rate_pct",
        "annualized_rate_pct",
        "avg_24h_hourly_rate_pct",
        "predicted_long_hourly_pct",
        "predicted_short_hourly_pct",
        "predicted_at",
        "mark_twap_live",
        "oracle_twap_live",
        "next_funding_ts",
        "market_slot",
        "oracle_slot",
        "funding_period_s",
        "epoch",
    },
    MarketSnapshot: {
        "v",
        "network",
        "ts",
        "slot",
        "market_index",
        "symbol",
        "oracle_price",
        "oracle_price_raw",
        "market_slot",
        "oracle_slot",
        "mm_oracle_price",
        "mm_oracle_price_raw",
        "mm_oracle_used",
        "mark_price",
        "priced_at",
        "bid_price",
        "ask_price",
        "open_interest",
        "open_interest_long",
        "open_interest_short",
        "status",
        "contract_type",
        "epoch",
    },
    SpotMarketSnapshot: {
        "v",
        "network",
        "ts",
        "slot",
        "market_index",
        "symbol",
        "market_slot",
        "oracle_slot",
        "decimals",
        "oracle",
        "oracle_source",
        "oracle_price",
        "oracle_price_raw",
        "deposit_apr_pct",
        "borrow_apr_pct",
        "utilization_pct",
        "deposit_rate_raw",
        "borrow_rate_raw",
        "utilization_raw",
        "total_deposits",
        "total_borrows",
        "total_deposits_raw",
        "total_borrows_raw",
        "status",
        "epoch",
    },
    PerpMarketInfo: {"market_index", "symbol", "status", "oracle", "oracle_source"},
    MarketList: {"v", "network", "ts", "slot", "epoch", "markets"},
    StreamerStatus: {
        "v",
        "network",
        "ts",
        "slot",
        "state",
        "instance_id",
        "leader",
        "epoch",
        "consumers",
        "markets",
        "spot_markets",
        "feed_age_s",
        "last_slot",
        "reconnects",
        "rpc_errors",
        "last_error",
        "markets_skipped",
        "unpriced_markets",
        "config_error",
        "rpc_requests",
        "rpc_rate_limited",
        "version",
    },
    ConsumerPresence: {"v", "consumer_id", "name", "network", "pid", "host", "started_ts", "ts"},
    ReconnectResult: {"v", "network", "ts", "ok", "took_ms", "error"},
    ErrorReply: {"code", "error"},
}


@pytest.mark.parametrize("model", SAMPLES, ids=_id)
def test_round_trip(model: SchemaModel) -> None:
    """decode(encode(m)) == m for a full and a minimal instance of every model."""
    assert decode(type(model), encode(model)) == model


@pytest.mark.parametrize("model", SAMPLES, ids=_id)
def test_encoded_keys_are_exactly_the_contract(model: SchemaModel) -> None:
    """Every model encodes exactly its pinned key set, None fields included as null."""
    payload = json.loads(encode(model))
    assert set(payload) == WIRE_KEYS[type(model)]
    assert set(type(model).model_fields) == WIRE_KEYS[type(model)]
    if isinstance(model, MarketList):
        for element in payload["markets"]:
            assert set(element) == WIRE_KEYS[PerpMarketInfo]


@pytest.mark.parametrize("model", SAMPLES, ids=_id)
def test_encoding_is_compact_versioned_json(model: SchemaModel) -> None:
    """encode gives compact JSON bytes, and top-level messages carry schema version 1."""
    data = encode(model)
    assert isinstance(data, bytes)
    assert b"\n" not in data
    assert b'": ' not in data
    assert b'", "' not in data
    if "v" in WIRE_KEYS[type(model)]:
        assert json.loads(data)["v"] == 1


@pytest.mark.parametrize("model", SAMPLES, ids=_id)
def test_unknown_fields_are_ignored(model: SchemaModel) -> None:
    """A reader ignores fields it does not know (a newer writer's additions)."""
    payload = json.loads(encode(model))
    payload["added_in_v2"] = {"nested": [1, 2, 3]}
    if isinstance(model, MarketList):
        payload["markets"] = [{**m, "extra": True} for m in payload["markets"]]
    assert decode(type(model), json.dumps(payload).encode()) == model


def test_enums_encode_as_their_values() -> None:
    """StreamerState encodes as its lower-case value and ErrorCode as its number."""
    assert json.loads(encode(STATUS))["state"] == "running"
    assert json.loads(encode(ERROR)) == {"code": 404, "error": "unknown market: FOO-PERP"}
    assert [s.value for s in StreamerState] == [
        "standby",
        "idle",
        "starting",
        "running",
        "degraded",
        "stopping",
    ]
    assert [int(c) for c in ErrorCode] == [400, 404, 503]


def test_models_are_frozen() -> None:
    """Models are immutable: assignment raises, so a published value cannot change."""
    with pytest.raises(ValidationError):
        setattr(FUNDING, "slot", 1)  # noqa: B010  (a typed assignment would not compile)
    assert hash(MARKET_LIST) == hash(decode(MarketList, encode(MARKET_LIST)))


def test_symbols_are_normalised_in_models() -> None:
    """A lower-case symbol in a payload is upper-cased on decode."""
    payload = json.loads(encode(FUNDING))
    payload["symbol"] = "sol-perp"
    assert decode(FundingRate, json.dumps(payload)).symbol == "SOL-PERP"


def test_spot_symbols_keep_their_case_in_models() -> None:
    """A spot symbol decodes as sent (`wBTC` stays `wBTC`); a bad one is refused."""
    payload = json.loads(encode(SPOT))
    assert decode(SpotMarketSnapshot, json.dumps(payload)).symbol == "wBTC"
    payload["symbol"] = "jitoSOL"
    assert decode(SpotMarketSnapshot, json.dumps(payload)).symbol == "jitoSOL"
    payload["symbol"] = "w.BTC"
    with pytest.raises(SchemaError, match="invalid spot market symbol"):
        decode(SpotMarketSnapshot, json.dumps(payload))


def test_minimal_consumer_presence_decodes() -> None:
    """A presence value with only consumer_id and name (the design's minimum) decodes."""
    presence = decode(ConsumerPresence, b'{"consumer_id": "cli", "name": "nats kv put"}')
    assert (presence.consumer_id, presence.name, presence.network) == ("cli", "nats kv put", None)


def test_decode_accepts_bytes_like_and_str() -> None:
    """decode takes bytes, bytearray, memoryview (nats payloads) and str."""
    data = encode(FUNDING)
    for payload in (data, bytearray(data), memoryview(data), data.decode()):
        assert decode(FundingRate, payload) == FUNDING


# --------------------------------------------------------------------------- from_raw


def _raw(**overrides: Any) -> FundingRate:
    fields: dict[str, Any] = {
        "network": "mainnet",
        "slot": 1,
        "ts": 2.0,
        "market_index": 0,
        "symbol": "sol-perp",
        "last_funding_rate": 1_250_000,
        "last_funding_rate_ts": 1_700_000_000,
        "last_funding_oracle_twap": 150_000_000,
        "last_oracle_price_twap": 151_000_000,
        "last24h_avg_funding_rate": -600_000,
        "funding_period_s": 3600,
        "epoch": 4,
    }
    return FundingRate.from_raw(**{**fields, **overrides})


def test_from_raw_converts_units() -> None:
    """from_raw fills the percent fields from raw amm values with the units functions."""
    rate = _raw(predicted_long=833, predicted_short=-12_345)
    assert rate.symbol == "SOL-PERP"
    assert rate.oracle_twap == 150_000_000
    assert rate.last_funding_rate == 1_250_000
    # 1.25e-3 USD / 150 USD * 100 = 0.000833333...% hourly; * 8766 = 7.305% a year
    assert rate.hourly_rate_pct == pytest.approx(0.000833333333333333, rel=REL)
    assert rate.annualized_rate_pct == pytest.approx(7.305, rel=REL)
    # -6e-4 USD / 150 USD * 100 = -0.0004% hourly
    assert rate.avg_24h_hourly_rate_pct == pytest.approx(-0.0004, rel=REL)
    # driftpy percent * 1e6: 833 -> 0.000833%, -12_345 -> -0.012345%
    assert rate.predicted_long_hourly_pct == pytest.approx(0.000833, rel=REL)
    assert rate.predicted_short_hourly_pct == pytest.approx(-0.012345, rel=REL)
    assert rate.last_funding_rate_long is None
    assert rate.last_funding_rate_short is None


def test_from_raw_falls_back_to_oracle_twap() -> None:
    """With last_funding_oracle_twap 0, from_raw quotes against last_oracle_price_twap."""
    rate = _raw(last_funding_oracle_twap=0, last_oracle_price_twap=125_000_000)
    assert rate.oracle_twap == 125_000_000
    # 1.25e-3 USD / 125 USD * 100 = 0.001% hourly; * 8766 = 8.766% a year
    assert rate.hourly_rate_pct == pytest.approx(0.001, rel=REL)
    assert rate.annualized_rate_pct == pytest.approx(8.766, rel=REL)


def test_from_raw_without_twap_leaves_rates_undefined() -> None:
    """With both TWAPs 0 the percent fields are None, and nothing raises."""
    rate = _raw(last_funding_oracle_twap=0, last_oracle_price_twap=0)
    assert rate.oracle_twap == 0
    assert rate.hourly_rate_pct is None
    assert rate.annualized_rate_pct is None
    assert rate.avg_24h_hourly_rate_pct is None
    assert rate.predicted_long_hourly_pct is None


def test_from_raw_keeps_long_short_rates() -> None:
    """The per-side raw rates are passed through unchanged."""
    rate = _raw(last_funding_rate_long=-5, last_funding_rate_short=7)
    assert (rate.last_funding_rate_long, rate.last_funding_rate_short) == (-5, 7)


def test_from_raw_rejects_a_bad_symbol() -> None:
    """from_raw validates like the constructor: a bad symbol is a ValidationError."""
    with pytest.raises(ValidationError, match="invalid market symbol"):
        _raw(symbol="SOL.PERP")


# --------------------------------------------------------------------------- spot from_raw


def _spot(**overrides: Any) -> SpotMarketSnapshot:
    fields: dict[str, Any] = {
        "network": "mainnet",
        "slot": 10,
        "ts": 2.0,
        "market_index": 0,
        "symbol": "USDC",
        "decimals": 6,
        "status": "active",
        "oracle_price": 999_950,
        "total_deposits": 250_000_000_123_456,
        "total_borrows": 180_000_000_000_000,
        "epoch": 4,
        "deposit_rate": 41_234,
        "borrow_rate": 61_500,
        "utilization": 720_000,
        "market_slot": 9,
        "oracle_slot": 8,
    }
    return SpotMarketSnapshot.from_raw(**{**fields, **overrides})


def test_spot_from_raw_converts_units() -> None:
    """from_raw keeps every raw value and converts with the units functions."""
    spot = _spot()
    assert (spot.symbol, spot.decimals, spot.status) == ("USDC", 6, "active")
    # 999_950 / 1e6 USD
    assert spot.oracle_price == pytest.approx(0.99995, rel=REL)
    assert spot.oracle_price_raw == 999_950
    # 41_234 / 1e6 = 4.1234 % a year; 61_500 -> 6.15 %; utilization 720_000 / 1e6 = 72 %
    assert spot.deposit_apr_pct == pytest.approx(4.1234, rel=REL)
    assert spot.borrow_apr_pct == pytest.approx(6.15, rel=REL)
    assert spot.utilization_pct == pytest.approx(72.0, rel=REL)
    assert (spot.deposit_rate_raw, spot.borrow_rate_raw, spot.utilization_raw) == (
        41_234,
        61_500,
        720_000,
    )
    # 250_000_000_123_456 / 1e6 = 250_000_000.123456 USDC
    assert spot.total_deposits == pytest.approx(250_000_000.123456, rel=REL)
    assert spot.total_borrows == pytest.approx(180_000_000.0, rel=REL)
    assert spot.total_deposits_raw == 250_000_000_123_456
    assert (spot.market_slot, spot.oracle_slot) == (9, 8)


def test_spot_from_raw_with_failed_rates_leaves_them_none() -> None:
    """A rate the SDK could not compute (None) stays None in both forms."""
    spot = _spot(deposit_rate=None, borrow_rate=None, utilization=None)
    assert spot.deposit_apr_pct is None
    assert spot.deposit_rate_raw is None
    assert spot.borrow_apr_pct is None
    assert spot.utilization_pct is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"decimals": 2**32 - 1},  # a u32 on chain: refused before 10**decimals is computed
        {"decimals": -1},
        {"total_deposits": -1},
        {"total_borrows": 2**128},
        {"total_deposits": 10**400},  # too large for a float
        {"oracle_price": 2**63},
        {"symbol": "US DC"},
    ],
)
def test_spot_from_raw_refuses_values_that_do_not_fit(overrides: dict[str, Any]) -> None:
    """Values no real account holds are a ValueError (pydantic's included), never another
    error, so the publisher skips the market and goes on."""
    with pytest.raises(ValueError):  # noqa: PT011  (which one depends on the field)
        _spot(**overrides)


# --------------------------------------------------------------------------- MarketList


def test_market_list_lookup() -> None:
    """get finds a market by index, digit string or symbol in any case; by_symbol maps all."""
    assert MARKET_LIST.get(4) == MARKET_INFO
    assert MARKET_LIST.get("4") == MARKET_INFO
    assert MARKET_LIST.get("1mbonk-perp") == MARKET_INFO
    assert MARKET_LIST.get("1MBONK-PERP") == MARKET_INFO
    assert list(MARKET_LIST.by_symbol()) == ["SOL-PERP", "1MBONK-PERP", "TRUMP-WIN-2024-BET"]
    assert MARKET_LIST.by_symbol()["SOL-PERP"].market_index == 0


@pytest.mark.parametrize(
    "market", [99, -1, "99", "FOO-PERP", "SOL.PERP", "SOL-PERP>", "", " 0", True, None, 1.5]
)
def test_market_list_lookup_never_raises(market: Any) -> None:
    """get returns None for an unknown, malformed or wrongly typed market, never raises."""
    assert MARKET_LIST.get(market) is None


# --------------------------------------------------------------------------- bad payloads


def _with(model: SchemaModel, **changes: Any) -> bytes:
    payload = json.loads(encode(model))
    payload.update(changes)
    return json.dumps(payload).encode()


BAD_PAYLOADS: list[tuple[type[SchemaModel], bytes | str]] = [
    (FundingRate, b""),
    (FundingRate, b"\xff\xfe\x00garbage"),
    (FundingRate, b"not json"),
    (FundingRate, b"null"),
    (FundingRate, b"[]"),
    (FundingRate, b"{}"),
    (FundingRate, b'{"symbol": "SOL-PERP"'),
    (FundingRate, b"[" * 10_000),
    (FundingRate, _with(FUNDING, slot=-1)),
    (FundingRate, _with(FUNDING, slot="5")),
    (FundingRate, _with(FUNDING, slot=5.0)),
    (FundingRate, _with(FUNDING, slot=True)),
    (FundingRate, _with(FUNDING, slot=2**64)),
    (FundingRate, _with(FUNDING, ts=-0.5)),
    (FundingRate, _with(FUNDING, ts="now")),
    (FundingRate, _with(FUNDING, network="testnet")),
    (FundingRate, _with(FUNDING, symbol="SOL.PERP")),
    (FundingRate, _with(FUNDING, symbol="SOL-PERP>")),
    (FundingRate, _with(FUNDING, symbol="SOL PERP")),
    (FundingRate, _with(FUNDING, symbol=0)),
    (FundingRate, _with(FUNDING, market_index=-1)),
    (FundingRate, _with(FUNDING, market_index=70_000)),
    (FundingRate, _with(FUNDING, last_funding_rate=2**63)),
    (FundingRate, _with(FUNDING, hourly_rate_pct="0.1")),
    (FundingRate, _with(FUNDING, epoch=-1)),
    (FundingRate, _with(FUNDING, v=0)),
    (FundingRate, json.dumps(FUNDING.model_dump(mode="json")).replace("7.305", "NaN")),
    (FundingRate, json.dumps(FUNDING.model_dump(mode="json")).replace("7.305", "1e999")),
    (MarketSnapshot, _with(SNAPSHOT, open_interest=-1.0)),
    (MarketSnapshot, _with(SNAPSHOT, status=None)),
    (SpotMarketSnapshot, _with(SPOT, symbol="w BTC")),
    (SpotMarketSnapshot, _with(SPOT, decimals=256)),
    (SpotMarketSnapshot, _with(SPOT, decimals=-1)),
    (SpotMarketSnapshot, _with(SPOT, total_deposits=-0.5)),
    (SpotMarketSnapshot, _with(SPOT, total_borrows_raw=-1)),
    (SpotMarketSnapshot, _with(SPOT, total_deposits_raw=2**128)),
    (SpotMarketSnapshot, _with(SPOT, total_deposits_raw="5")),
    (SpotMarketSnapshot, _with(SPOT, oracle_price_raw=None)),
    (SpotMarketSnapshot, _with(SPOT, deposit_rate_raw=2**63)),
    (SpotMarketSnapshot, _with(SPOT, status=None)),
    (MarketList, _with(MARKET_LIST, markets={"0": "SOL-PERP"})),
    (MarketList, _with(MARKET_LIST, markets=[{"market_index": 0, "symbol": "SOL.PERP"}])),
    (MarketList, _with(MARKET_LIST, markets=[{"symbol": "SOL-PERP"}])),
    (StreamerStatus, _with(STATUS, state="flying")),
    (StreamerStatus, _with(STATUS, consumers=-1)),
    (ConsumerPresence, _with(PRESENCE, consumer_id="a.b")),
    (ConsumerPresence, b'{"name": "no id"}'),
    (ReconnectResult, _with(RECONNECT, ok="yes")),
    (ReconnectResult, _with(RECONNECT, took_ms=-1)),
    (ErrorReply, b'{"code": "404", "error": "x"}'),
    (ErrorReply, b'{"error": "x"}'),
]


@pytest.mark.parametrize(("model_type", "data"), BAD_PAYLOADS)
def test_bad_payload_raises_schema_error(model_type: type[SchemaModel], data: bytes) -> None:
    """An invalid payload raises SchemaError (not pydantic's error, not KeyError), chained."""
    with pytest.raises(SchemaError) as info:
        decode(model_type, data)
    assert type(info.value) is SchemaError
    assert not isinstance(info.value, ValidationError)
    assert isinstance(info.value.__cause__, ValidationError)
    assert model_type.__name__ in str(info.value)


def test_schema_error_message_is_short() -> None:
    """The error names the model and shows at most 200 chars of a large payload."""
    huge = b'{"symbol": "SOL.PERP", "pad": "' + b"x" * 100_000 + b'"}'
    with pytest.raises(SchemaError) as info:
        decode(FundingRate, huge)
    message = str(info.value)
    assert message.startswith("invalid FundingRate: ")
    assert "x" * 201 not in message
    assert len(message) < 1_000


def test_decode_of_a_non_bytes_value_raises_schema_error() -> None:
    """Passing something that is not bytes or str raises SchemaError, not TypeError."""
    with pytest.raises(SchemaError, match="cannot decode FundingRate from int"):
        decode(FundingRate, 5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
FIELD_NAMES = sorted({name for keys in WIRE_KEYS.values() for name in keys})


@settings(max_examples=200, deadline=None)
@given(model_type=st.sampled_from(MODEL_TYPES), data=st.binary(max_size=300))
def test_decode_of_arbitrary_bytes_raises_only_schema_error(
    model_type: type[SchemaModel], data: bytes
) -> None:
    """On arbitrary bytes decode returns a model or raises SchemaError, nothing else."""
    with contextlib.suppress(SchemaError):
        decode(model_type, data)


@settings(max_examples=200, deadline=None)
@given(
    model_type=st.sampled_from(MODEL_TYPES),
    obj=st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), JSON_VALUES),
)
def test_decode_of_arbitrary_json_objects_raises_only_schema_error(
    model_type: type[SchemaModel], obj: dict[str, Any]
) -> None:
    """On arbitrary JSON objects decode returns a model or raises SchemaError, nothing else."""
    with contextlib.suppress(SchemaError):
        decode(model_type, json.dumps(obj).encode())


@settings(max_examples=200, deadline=None)
@given(
    model=st.sampled_from(FULL),
    overrides=st.dictionaries(st.sampled_from(FIELD_NAMES), JSON_VALUES, min_size=1),
)
def test_decode_of_corrupted_valid_payloads_raises_only_schema_error(
    model: SchemaModel, overrides: dict[str, Any]
) -> None:
    """A valid payload with arbitrary values in known fields decodes or raises SchemaError."""
    payload = {**json.loads(encode(model)), **overrides}
    try:
        decoded = decode(type(model), json.dumps(payload).encode())
    except SchemaError:
        return
    assert decode(type(model), encode(decoded)) == decoded


I64S = st.integers(min_value=I64_MIN, max_value=I64_MAX)
U64S = st.integers(min_value=0, max_value=2**64 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
OPT_FLOATS = st.none() | FLOATS

FUNDING_RATES = st.builds(
    FundingRate,
    v=st.integers(min_value=1, max_value=1_000),
    network=st.sampled_from(NETWORKS),
    slot=U64S,
    ts=st.floats(min_value=0, allow_infinity=False),
    market_index=st.integers(min_value=0, max_value=2**16 - 1),
    symbol=st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    last_funding_rate=I64S,
    last_funding_rate_long=st.none() | I64S,
    last_funding_rate_short=st.none() | I64S,
    last_funding_rate_ts=I64S,
    oracle_twap=I64S,
    hourly_rate_pct=OPT_FLOATS,
    annualized_rate_pct=OPT_FLOATS,
    avg_24h_hourly_rate_pct=OPT_FLOATS,
    predicted_long_hourly_pct=OPT_FLOATS,
    predicted_short_hourly_pct=OPT_FLOATS,
    funding_period_s=U64S,
    epoch=U64S,
)


@settings(max_examples=200, deadline=None)
@given(rate=FUNDING_RATES)
def test_funding_rate_round_trips_for_any_valid_value(rate: FundingRate) -> None:
    """Any valid FundingRate (i64 ints, finite floats) survives encode/decode exactly."""
    decoded = decode(FundingRate, encode(rate))
    assert decoded == rate
    assert encode(decoded) == encode(rate)


SPOT_SNAPSHOTS = st.builds(
    SpotMarketSnapshot,
    network=st.sampled_from(NETWORKS),
    slot=U64S,
    ts=st.floats(min_value=0, allow_infinity=False),
    market_index=st.integers(min_value=0, max_value=2**16 - 1),
    symbol=st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    market_slot=st.none() | U64S,
    oracle_slot=st.none() | U64S,
    decimals=st.integers(0, 255),
    oracle=st.none() | st.text(max_size=44),
    oracle_source=st.none() | st.text(max_size=20),
    oracle_price=FLOATS,
    oracle_price_raw=I64S,
    deposit_apr_pct=OPT_FLOATS,
    borrow_apr_pct=OPT_FLOATS,
    utilization_pct=OPT_FLOATS,
    deposit_rate_raw=st.none() | I64S,
    borrow_rate_raw=st.none() | I64S,
    utilization_raw=st.none() | I64S,
    total_deposits=st.floats(min_value=0, allow_infinity=False),
    total_borrows=st.floats(min_value=0, allow_infinity=False),
    total_deposits_raw=st.integers(0, 2**128 - 1),
    total_borrows_raw=st.integers(0, 2**128 - 1),
    status=st.text(max_size=20),
    epoch=U64S,
)


@settings(max_examples=200, deadline=None)
@given(spot=SPOT_SNAPSHOTS)
def test_spot_snapshot_round_trips_for_any_valid_value(spot: SpotMarketSnapshot) -> None:
    """Any valid SpotMarketSnapshot (u128 amounts, any symbol case) survives encode/decode."""
    decoded = decode(SpotMarketSnapshot, encode(spot))
    assert decoded == spot
    assert decoded.symbol == spot.symbol


@settings(max_examples=300, deadline=None)
@given(
    decimals=st.integers(-5, 40) | st.integers(-(2**31), 2**32),
    price=st.integers(-(2**70), 2**70),
    amount=st.integers(-(2**10), 2**140),
    rate=st.none() | st.integers(-(2**70), 2**70),
)
def test_spot_from_raw_builds_a_valid_model_or_raises_value_error(
    decimals: int, price: int, amount: int, rate: int | None
) -> None:
    """For any raw integers, from_raw gives a model that round-trips, or a ValueError."""
    try:
        spot = _spot(
            decimals=decimals,
            oracle_price=price,
            total_deposits=amount,
            total_borrows=amount // 3,
            deposit_rate=rate,
            utilization=rate,
        )
    except ValueError:
        return
    assert spot.total_deposits_raw == amount
    assert spot.total_deposits == pytest.approx(amount / 10**decimals, rel=REL)
    assert decode(SpotMarketSnapshot, encode(spot)) == spot


@settings(max_examples=200, deadline=None)
@given(
    rate=I64S,
    twap=I64S,
    fallback=I64S,
    predicted=st.none() | I64S,
)
def test_from_raw_builds_a_valid_model_for_any_i64_amm(
    rate: int, twap: int, fallback: int, predicted: int | None
) -> None:
    """from_raw never raises on any i64 amm values, and its output round-trips."""
    funding = _raw(
        last_funding_rate=rate,
        last_funding_oracle_twap=twap,
        last_oracle_price_twap=fallback,
        last24h_avg_funding_rate=rate,
        predicted_long=predicted,
    )
    assert (funding.hourly_rate_pct is None) == (funding.oracle_twap <= 0)
    assert decode(FundingRate, encode(funding)) == funding
