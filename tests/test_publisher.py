"""The publisher's write rules, with a recording KV: on change, refreshed at TTL/2,
and no model building for a market whose state did not change; perp and spot markets.
(Its writes to a real nats-server: tests/test_client.py.)"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from schemas import decode
from schemas.models import FundingRate, SpotMarketSnapshot
from streamer.models import spot_snapshot
from streamer.publisher import Publisher
from streamer.source import SourceSnapshot
from streamer.state import MarketState, SpotState
from tests.fence_fakes import FakeFenceStream


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


def spot_state(index: int, symbol: str, **changes: Any) -> SpotState:
    """A spot market with 1.5M tokens (6 decimals) deposited and 0.9M borrowed."""
    state = SpotState(
        market_index=index,
        symbol=symbol,
        status="active",
        decimals=6,
        oracle="Oracle1111111111111111111111111111111111111",
        oracle_source="pythLazer",
        oracle_price=1_000_000,
        oracle_slot=1,
        market_slot=1,
        deposit_rate=35_000,
        borrow_rate=60_000,
        utilization=600_000,
        total_deposits=1_500_000_000_000,
        total_borrows=900_000_000_000,
    )
    return dataclasses.replace(state, **changes)


TTLS = {
    "drift_funding": 30.0,
    "drift_prices": 10.0,
    "drift_markets": 60.0,
    "drift_spot": 30.0,
}


async def _holds() -> bool:
    return True


async def _publisher(kvs: dict[str, FakeFenceStream], epoch: int = 1, **kwargs: Any) -> Publisher:
    """A Publisher on in-memory streams, fenced for `epoch`."""
    publisher = Publisher(kvs, "local", TTLS, **kwargs)
    await publisher.fence(epoch, "test", _holds)
    return publisher


@pytest.fixture
def kvs() -> dict[str, FakeFenceStream]:
    return {b: FakeFenceStream(b) for b in TTLS}


async def test_writes_on_change_and_on_refresh_only(kvs: dict[str, FakeFenceStream]) -> None:
    """First pass: everything. Same states again: nothing (and no models built). One
    market's funding changes: that funding only. Past a bucket's TTL/2: re-sent."""
    now = [0.0]
    publisher = await _publisher(kvs, clock=lambda: now[0])
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


async def test_a_new_predicted_at_or_account_slot_alone_is_no_change(
    kvs: dict[str, FakeFenceStream],
) -> None:
    """The same figures computed a second later, from newer account versions, are not
    written again (the published value recomputes the same from the older versions);
    a changed figure is, with the time and slots it was computed at."""
    publisher = await _publisher(kvs, clock=lambda: 0.0)
    first = dataclasses.replace(_state(0, "SOL-PERP"), predicted_at=100, mark_twap_live=7)
    await publisher.publish(SourceSnapshot(slot=1, markets=(first,)), epoch=1)
    later = dataclasses.replace(first, predicted_at=101, market_slot=5, oracle_slot=6)
    assert (
        await publisher.publish(SourceSnapshot(slot=2, markets=(later,)), epoch=1)
    ).written == {}
    moved = dataclasses.replace(later, mark_twap_live=8)
    result = await publisher.publish(SourceSnapshot(slot=3, markets=(moved,)), epoch=1)
    assert result.written == {"drift_funding": 1}
    written = decode(FundingRate, kvs["drift_funding"].puts[-1][1])
    assert (written.predicted_at, written.market_slot, written.oracle_slot) == (101, 5, 6)


async def test_a_market_that_fails_validation_is_skipped(kvs: dict[str, FakeFenceStream]) -> None:
    """A state with an invalid symbol is skipped and counted; the others still publish."""
    publisher = await _publisher(kvs)
    markets = (_state(0, "SOL-PERP"), _state(1, "BAD SYMBOL!"))
    result = await publisher.publish(SourceSnapshot(slot=1, markets=markets), epoch=1)
    assert result.skipped_invalid == 1
    assert result.written["drift_funding"] == 1


async def test_spot_markets_publish_on_change_and_on_refresh_only(
    kvs: dict[str, FakeFenceStream],
) -> None:
    """Spot markets follow the perps' rules: everything at first, nothing for the same
    states, the one that changed, and all of them again past the bucket's TTL/2 (15 s).
    Keys and symbols keep Drift's case; find_spot matches any case, or the index."""
    now = [0.0]
    publisher = await _publisher(kvs, epoch=2, clock=lambda: now[0])
    perps = (_state(0, "SOL-PERP"),)
    spots = (spot_state(0, "USDC"), spot_state(3, "wBTC", decimals=8, oracle_price=97_000_000_000))
    first = await publisher.publish(SourceSnapshot(slot=1, markets=perps, spots=spots), epoch=2)
    assert first.written == {
        "drift_funding": 1,
        "drift_prices": 1,
        "drift_markets": 1,
        "drift_spot": 2,
    }
    assert [key for key, _ in kvs["drift_spot"].puts] == ["local.USDC", "local.wBTC"]
    wbtc = decode(SpotMarketSnapshot, kvs["drift_spot"].puts[1][1])
    assert (wbtc.symbol, wbtc.market_index, wbtc.epoch) == ("wBTC", 3, 2)
    assert wbtc.oracle_price == 97_000.0
    assert wbtc.total_deposits == 15_000.0  # 1.5e12 at 8 decimals
    assert wbtc.deposit_apr_pct == pytest.approx(3.5)

    now[0] = 1.0
    same = await publisher.publish(SourceSnapshot(slot=2, markets=perps, spots=spots), epoch=2)
    assert same.written == {}

    now[0] = 2.0
    changed = (dataclasses.replace(spots[0], borrow_rate=70_000), spots[1])
    result = await publisher.publish(SourceSnapshot(slot=3, markets=perps, spots=changed), epoch=2)
    assert result.written == {"drift_spot": 1}
    key, value = kvs["drift_spot"].puts[-1]
    assert key == "local.USDC"
    assert decode(SpotMarketSnapshot, value).borrow_rate_raw == 70_000

    now[0] = 17.0  # past TTL/2 of drift_spot and drift_funding (15 s); prices too (5 s)
    refreshed = await publisher.publish(
        SourceSnapshot(slot=4, markets=perps, spots=changed), epoch=2
    )
    assert refreshed.written == {"drift_funding": 1, "drift_prices": 1, "drift_spot": 2}

    for market, symbol in (("USDC", "USDC"), ("usdc", "USDC"), ("WBTC", "wBTC"), (3, "wBTC")):
        found = publisher.find_spot(market)
        assert found is not None
        assert found.symbol == symbol
    assert publisher.find_spot("SOL-PERP") is None
    assert publisher.find_spot(1) is None
    assert publisher.find_funding("USDC") is None  # perps and spots do not mix


async def test_a_spot_market_without_oracle_price_waits_for_one(
    kvs: dict[str, FakeFenceStream],
) -> None:
    """No oracle price: no snapshot (rather than a wrong one); the first price publishes."""
    publisher = await _publisher(kvs)
    unpriced = spot_state(1, "SOL", oracle_price=None)
    result = await publisher.publish(SourceSnapshot(slot=1, markets=(), spots=(unpriced,)), epoch=1)
    assert "drift_spot" not in result.written
    assert publisher.find_spot("SOL") is None
    priced = dataclasses.replace(unpriced, oracle_price=150_000_000)
    result = await publisher.publish(SourceSnapshot(slot=2, markets=(), spots=(priced,)), epoch=1)
    assert result.written["drift_spot"] == 1
    found = publisher.find_spot("sol")
    assert found is not None
    assert found.oracle_price == 150.0


async def test_an_invalid_spot_market_is_skipped_and_logged_once(
    kvs: dict[str, FakeFenceStream], caplog: pytest.LogCaptureFixture
) -> None:
    """A spot state that cannot be published (a symbol with a space, decimals no mint has)
    is skipped, counted every pass and logged once; the others still publish."""
    publisher = await _publisher(kvs)
    spots = (
        spot_state(0, "USDC"),
        spot_state(5, "Default Market Name"),
        spot_state(6, "BROKEN", decimals=2**32 - 1),
    )
    with caplog.at_level(logging.WARNING, logger="drift_stream.publisher"):
        for slot in (1, 2):
            result = await publisher.publish(
                SourceSnapshot(slot=slot, markets=(), spots=spots), epoch=1
            )
            assert result.skipped_invalid == 2
    assert [key for key, _ in kvs["drift_spot"].puts] == ["local.USDC"]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2
    assert any("Default Market Name" in m for m in skipped)
    assert any("BROKEN" in m and "decimals" in m for m in skipped)


def test_spot_snapshot_maps_every_state_field() -> None:
    """streamer.models.spot_snapshot puts each SpotState field in its place (units by
    schemas.units), and gives None while the oracle price is unknown."""
    state = spot_state(3, "wBTC", decimals=8, oracle_price=97_000_500_000, oracle_slot=7)
    spot = spot_snapshot(state, network="mainnet", slot=9, ts=5.0, epoch=4)
    assert spot is not None
    assert (spot.network, spot.slot, spot.ts, spot.epoch) == ("mainnet", 9, 5.0, 4)
    assert (spot.market_index, spot.symbol, spot.status, spot.decimals) == (3, "wBTC", "active", 8)
    assert (spot.oracle, spot.oracle_source) == (state.oracle, "pythLazer")
    assert (spot.market_slot, spot.oracle_slot) == (1, 7)
    assert (spot.oracle_price_raw, spot.oracle_price) == (97_000_500_000, 97_000.5)
    assert (spot.deposit_rate_raw, spot.borrow_rate_raw, spot.utilization_raw) == (
        35_000,
        60_000,
        600_000,
    )
    assert spot.deposit_apr_pct == pytest.approx(3.5)
    assert spot.borrow_apr_pct == pytest.approx(6.0)
    assert spot.utilization_pct == pytest.approx(60.0)
    assert (spot.total_deposits_raw, spot.total_borrows_raw) == (1_500_000_000_000, 900_000_000_000)
    assert (spot.total_deposits, spot.total_borrows) == (15_000.0, 9_000.0)  # 8 decimals
    unpriced = dataclasses.replace(state, oracle_price=None)
    assert spot_snapshot(unpriced, network="mainnet", slot=9, ts=5.0, epoch=4) is None
