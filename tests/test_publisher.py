"""The publisher's write rules, with a recording KV: on change, refreshed at TTL/2,
and no model building for a market whose state did not change."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest
from nats.js.kv import KeyValue

from schemas import decode
from schemas.models import FundingRate
from streamer.publisher import Publisher
from streamer.source import SourceSnapshot
from streamer.state import MarketState


class RecordingKV:
    def __init__(self) -> None:
        self.puts: list[tuple[str, bytes]] = []

    async def put(self, key: str, value: bytes) -> int:
        self.puts.append((key, value))
        return len(self.puts)


def _state(index: int, symbol: str, rate: int = 1_000) -> MarketState:
    return MarketState(
        market_index=index,
        symbol=symbol,
        status="active",
        contract_type="perpetual",
        oracle="Oracle1111111111111111111111111111111111111",
        oracle_source="pythLazer",
        oracle_price=150_000_000,
        oracle_slot=1,
        last_funding_rate=rate,
        last_funding_rate_long=rate,
        last_funding_rate_short=rate,
        last24h_avg_funding_rate=rate,
        last_funding_rate_ts=1,
        last_funding_oracle_twap=150_000_000,
        last_oracle_price_twap=150_000_000,
        funding_period=3600,
        base_asset_amount_long=10**9,
        base_asset_amount_short=-(10**9),
        bid_price=149_900_000,
        ask_price=150_100_000,
        mark_price=150_000_000,
        predicted_long=1,
        predicted_short=1,
        market_slot=1,
    )


def _publisher(kvs: dict[str, RecordingKV], **kwargs: Any) -> Publisher:
    ttls = {"drift_funding": 30.0, "drift_prices": 10.0, "drift_markets": 60.0}
    return Publisher(cast("dict[str, KeyValue]", kvs), "local", ttls, **kwargs)


@pytest.fixture
def kvs() -> dict[str, RecordingKV]:
    return {b: RecordingKV() for b in ("drift_funding", "drift_prices", "drift_markets")}


async def test_writes_on_change_and_on_refresh_only(kvs: dict[str, RecordingKV]) -> None:
    """First pass: everything. Same states again: nothing (and no models built). One
    market's funding changes: that funding only. Past a bucket's TTL/2: re-sent."""
    now = [0.0]
    publisher = _publisher(kvs, clock=lambda: now[0])
    markets = (_state(0, "SOL-PERP"), _state(1, "BTC-PERP"))
    first = await publisher.publish(SourceSnapshot(slot=1, markets=markets), epoch=1)
    assert first.written == {"drift_funding": 2, "drift_prices": 2, "drift_markets": 1}

    now[0] = 1.0
    same = await publisher.publish(SourceSnapshot(slot=2, markets=markets), epoch=1)
    assert same.written == {}

    changed = (dataclasses.replace(markets[0], last_funding_rate=2_000), markets[1])
    now[0] = 2.0
    result = await publisher.publish(SourceSnapshot(slot=3, markets=changed), epoch=1)
    assert result.written == {"drift_funding": 1}  # the price did not change
    key, value = kvs["drift_funding"].puts[-1]
    assert key == "local.SOL-PERP"
    assert decode(FundingRate, value).last_funding_rate == 2_000
    assert publisher.find_funding("SOL-PERP") is not None
    assert publisher.find_funding(1) is not None

    now[0] = 7.5  # past the price bucket's TTL/2 (5 s): prices re-sent, with funding built
    refreshed = await publisher.publish(SourceSnapshot(slot=4, markets=changed), epoch=1)
    assert refreshed.written == {"drift_prices": 2}
    assert publisher.market_list is not None
    assert len(publisher.market_list.markets) == 2


async def test_a_market_that_fails_validation_is_skipped(kvs: dict[str, RecordingKV]) -> None:
    """A state with an invalid symbol is skipped and counted; the others still publish."""
    publisher = _publisher(kvs)
    markets = (_state(0, "SOL-PERP"), _state(1, "BAD SYMBOL!"))
    result = await publisher.publish(SourceSnapshot(slot=1, markets=markets), epoch=1)
    assert result.skipped_invalid == 1
    assert result.written["drift_funding"] == 1
