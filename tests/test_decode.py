"""Decoding perp market accounts (as localnet encodes them) into states and wire models."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localnet import codec
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets, MarketPatch
from localnet.presets import preset
from streamer.account_decode import decode_perp
from streamer.decode import OracleReading, market_state, variant
from streamer.math.types import OracleGuardRails
from streamer.models import funding_rate, market_info, market_snapshot
from streamer.oracles import decode_oracle

NOW = 1_795_500_000
MARKETS = DriftMarkets(Ledger(), preset("mainnet"))


RAILS = OracleGuardRails()


def _account(markets: DriftMarkets, symbol: str) -> tuple[bytes, OracleReading]:
    """The market's account bytes as localnet serves them, and its oracle's reading."""
    view = markets.perp(symbol)
    ledger = markets._ledger
    perp = ledger.get(str(view.address)).data  # type: ignore[union-attr]
    oracle_account = ledger.get(str(view.spec.oracle))
    assert oracle_account is not None
    source = variant(view.spec.oracle_source)
    return perp, OracleReading(decode_oracle(source, oracle_account.data), oracle_account.slot)


async def test_every_mainnet_market_decodes_to_its_served_values() -> None:
    """All 85 markets: symbol, index, funding fields and oracle price as localnet serves."""
    for view in MARKETS.perps:
        perp, oracle = _account(MARKETS, view.spec.symbol)
        state = market_state(decode_perp(perp), 7, oracle, RAILS, NOW)
        served = view.to_json()
        assert state.symbol == view.spec.symbol
        assert state.market_index == view.spec.market_index
        assert state.oracle_price == view.oracle_price
        assert state.status == "active"
        for field in (
            "last_funding_rate",
            "last24h_avg_funding_rate",
            "last_funding_rate_ts",
            "last_funding_oracle_twap",
            "last_oracle_price_twap",
        ):
            assert getattr(state, field) == served[field], field
        funding = funding_rate(state, network="mainnet", slot=1, ts=NOW, epoch=1)
        snapshot = market_snapshot(state, network="mainnet", slot=1, ts=NOW, epoch=1)
        assert snapshot is not None
        assert funding.symbol == snapshot.symbol == market_info(state).symbol


async def test_sol_funding_units_match_hand_computed_values() -> None:
    """1_250_000 (1e9) at a 150 USD TWAP: 0.00125/150*100 % hourly, x 8766 a year."""
    markets = DriftMarkets(Ledger(), preset("small"))
    markets.apply(
        MarketPatch(
            symbol="SOL-PERP",
            last_funding_rate=1_250_000,
            last_funding_oracle_twap=150_000_000,
            base_asset_amount_long=5 * 10**13,
            base_asset_amount_short=-4 * 10**13,
        )
    )
    perp, oracle = _account(markets, "SOL-PERP")
    state = market_state(decode_perp(perp), 7, oracle, RAILS, NOW)
    funding = funding_rate(state, network="local", slot=1, ts=NOW, epoch=2)
    assert funding.hourly_rate_pct == pytest.approx(0.000833333333333, rel=1e-12)
    assert funding.annualized_rate_pct == pytest.approx(0.000833333333333 * 8766, rel=1e-12)
    assert funding.oracle_twap == 150_000_000
    snapshot = market_snapshot(state, network="local", slot=1, ts=NOW, epoch=2)
    assert snapshot is not None
    assert snapshot.bid_price is not None
    assert snapshot.ask_price is not None
    assert snapshot.mark_price is not None
    assert snapshot.bid_price < snapshot.ask_price
    assert snapshot.bid_price <= snapshot.mark_price <= snapshot.ask_price
    assert snapshot.open_interest == 50_000.0  # max(5e13, 4e13) / 1e9


async def test_no_oracle_means_no_prices_and_no_error() -> None:
    """Without oracle data the prices are None and the snapshot is withheld."""
    perp, _ = _account(MARKETS, "BTC-PERP")
    state = market_state(decode_perp(perp), 7, None, RAILS, NOW)
    assert (state.oracle_price, state.mark_price, state.predicted_long) == (None, None, None)
    assert market_snapshot(state, network="local", slot=1, ts=NOW, epoch=1) is None
    assert funding_rate(state, network="local", slot=1, ts=NOW, epoch=1).symbol == "BTC-PERP"


I64 = st.integers(-(2**63), 2**63 - 1)
U64 = st.integers(0, 2**64 - 1)


@settings(max_examples=150, deadline=None)
@given(
    reserves=U64,
    peg=U64,
    twap=I64,
    rate=I64,
    long=st.integers(0, 2**63 - 1),
    short=st.integers(-(2**63), 0),
    spread=st.integers(0, 2**32 - 1),
)
async def test_odd_accounts_never_raise(
    reserves: int, peg: int, twap: int, rate: int, long: int, short: int, spread: int
) -> None:
    """Property (graceful degradation): any AMM values encode and decode; the math
    failing only leaves the derived prices None."""
    data, oracle = _account(MARKETS, "ETH-PERP")
    perp = codec.decode(data)
    amm = perp.amm
    amm.base_asset_reserve = amm.quote_asset_reserve = reserves
    amm.peg_multiplier, amm.last_funding_rate = peg, rate
    amm.last_funding_oracle_twap = amm.historical_oracle_data.last_oracle_price_twap = twap
    amm.base_asset_amount_long, amm.base_asset_amount_short = long, short
    amm.long_spread = amm.short_spread = spread
    state = market_state(decode_perp(codec.build("PerpMarket", perp)), 7, oracle, RAILS, NOW)
    assert state.last_funding_rate == rate
    assert state.last_funding_oracle_twap == state.last_oracle_price_twap == twap
