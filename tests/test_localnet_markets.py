"""localnet's markets look like mainnet's: spreads, open interest, TWAPs, MM oracles, spot.

Checked on the encoded accounts as driftpy decodes them (what every client reads),
priced with the streamer's port of the SDK's math (`streamer.math`) and with the
official SDK itself, for the mainnet preset held still and after simulated steps.
"""

from __future__ import annotations

import base64
import statistics
from collections import Counter
from typing import Any

import pytest
from driftpy.math.amm import calculate_price
from driftpy.math.spot_balance import (
    calculate_borrow_rate,
    calculate_deposit_rate,
    calculate_utilization,
)

from localnet import codec
from localnet.ledger import Ledger
from localnet.markets import STATE_ADDRESS, DriftMarkets, PerpView
from localnet.mm_oracle import MM_MODES
from localnet.presets import preset
from localnet.simulation import MarketSimulator, SimulationConfig
from streamer.decode import guard_rails_of, variant
from streamer.decoders import perp_market_of
from streamer.math.amm import calculate_bid_ask_price
from streamer.math.oracle import get_mm_oracle_price_data
from streamer.math.types import MMOraclePriceData, OraclePriceData, PerpMarket
from streamer.oracles import decode_oracle
from tests.sdk_reference import Call, SdkReference, mm_oracle_data

NOW = 1_795_500_000
MARKETS = DriftMarkets(Ledger(), preset("mainnet"), now=NOW)


def _decoded(markets: DriftMarkets, address: object) -> Any:
    account = markets._ledger.get(str(address))
    assert account is not None
    return codec.decode(account.data)


def _bytes_of(markets: DriftMarkets, address: object) -> bytes:
    account = markets._ledger.get(str(address))
    assert account is not None
    return account.data


def _oracle(markets: DriftMarkets, view: PerpView) -> OraclePriceData:
    """The oracle as the SDK's oracle client reads it (price, slot, sequence id)."""
    return decode_oracle(variant(view.spec.oracle_source), _bytes_of(markets, view.spec.oracle))


def _priced(
    markets: DriftMarkets, view: PerpView
) -> tuple[PerpMarket, OraclePriceData, MMOraclePriceData]:
    """The market, its oracle, and the price the SDK quotes the AMM with (the MM
    oracle's or the oracle's, by `getMMOracleDataForPerpMarket`'s rules)."""
    market = perp_market_of(_decoded(markets, view.address))
    oracle = _oracle(markets, view)
    rails = guard_rails_of(_decoded(markets, STATE_ADDRESS))
    return market, oracle, get_mm_oracle_price_data(market, oracle, rails)


def _sdk_uses_mm_oracle(markets: DriftMarkets, view: PerpView) -> bool:
    return _priced(markets, view)[2].mm_oracle_used


def _bid_ask(markets: DriftMarkets, view: PerpView, now: int) -> tuple[int, int, int]:
    """(bid, ask, oracle price) as the SDK computes bid and ask (repeg included)."""
    market, oracle, mm = _priced(markets, view)
    bid, ask = calculate_bid_ask_price(market.amm, mm, now, is_prediction=view.spec.prediction)
    return bid, ask, oracle.price


def _assert_sane(markets: DriftMarkets, now: int) -> None:
    for view in markets.perps:
        bid, ask, oracle = _bid_ask(markets, view, now)
        assert 0 < bid < ask, view.spec.symbol
        assert abs(bid - oracle) < oracle * 0.05, (view.spec.symbol, bid, oracle)
        assert abs(ask - oracle) < oracle * 0.05, (view.spec.symbol, ask, oracle)


def test_every_mainnet_market_has_a_sane_bid_and_ask() -> None:
    """0 < bid < ask, both within 5 % of the oracle, on all 85 markets."""
    assert len(MARKETS.perps) == 85
    _assert_sane(MARKETS, NOW + 60)


def test_open_interest_is_imbalanced_both_ways_and_reserves_agree() -> None:
    """Longs heavier on some markets, shorts on others, a few balanced or empty; the
    AMM's reserves are consistent with its position."""
    sides: Counter[str] = Counter()
    for view in MARKETS.perps:
        amm = _decoded(MARKETS, view.address).amm
        long, short = amm.base_asset_amount_long, amm.base_asset_amount_short
        assert long >= 0 >= short
        assert amm.base_asset_amount_with_amm == long + short
        sides[
            "empty"
            if long == 0
            else "long"
            if long > -short
            else "short"
            if long < -short
            else "even"
        ] += 1
        base, quote, k = amm.base_asset_reserve, amm.quote_asset_reserve, amm.sqrt_k
        assert abs(k * k - base * quote) <= base  # sqrt_k^2 == base * quote, to rounding
        assert amm.terminal_quote_asset_reserve == k * k // (base + amm.base_asset_amount_with_amm)
        assert amm.min_base_asset_reserve < base < amm.max_base_asset_reserve
        reserve = calculate_price(base, quote, amm.peg_multiplier)
        assert abs(reserve - view.oracle_price) <= view.oracle_price * 0.002 + 1
    assert sides["long"] >= 10
    assert sides["short"] >= 10
    assert 1 <= sides["even"] <= 10
    assert 1 <= sides["empty"] <= 10


def test_spread_settings_vary_as_on_mainnet() -> None:
    """curve_update_intensity mostly 100-200 (some 0, some exactly 200), every contract
    tier, negative spread adjustments, reference offsets, a few negative fee pools, and
    max_spread from the margin ratios as the program sets it."""
    perps = [(v, _decoded(MARKETS, v.address)) for v in MARKETS.perps]
    intensity = Counter(p.amm.curve_update_intensity for _, p in perps)
    assert intensity[0] >= 3
    assert intensity[200] >= 10
    assert sum(n for i, n in intensity.items() if 100 <= i < 200) >= 30
    assert {type(p.contract_tier).__name__ for _, p in perps} == {
        "A",
        "B",
        "C",
        "Speculative",
        "HighlySpeculative",
        "Isolated",
    }
    amm = [p.amm for _, p in perps]
    assert any(a.amm_spread_adjustment < 0 for a in amm)
    assert any(a.amm_spread_adjustment > 0 for a in amm)
    assert any(a.amm_inventory_spread_adjustment < 0 for a in amm)
    assert any(a.reference_price_offset < 0 for a in amm)
    assert any(a.reference_price_offset > 0 for a in amm)
    assert any(a.reference_price_offset_deadband_pct > 0 for a in amm)
    assert 3 <= sum(a.total_fee_minus_distributions < 0 for a in amm) <= 15
    assert any(a.net_revenue_since_last_funding < -25 * 10**6 for a in amm)
    for _, p in perps:
        assert p.amm.max_spread == (p.margin_ratio_initial - p.margin_ratio_maintenance) * 95
        assert 0 < p.amm.base_spread < p.amm.max_spread
        assert p.amm.volume24h > 0
        assert p.amm.mark_std > 0
        assert p.amm.oracle_std > 0
    assert len({p.amm.base_spread for _, p in perps}) > 40


def test_mark_twaps_drift_from_oracle_twaps() -> None:
    """Premium on some markets, discount on others; the mark TWAP's timestamp before,
    after or equal to the oracle TWAP's (the SDK's shrinkStaleTwaps branches on it)."""
    signs: Counter[int] = Counter()
    order: Counter[str] = Counter()
    for view in MARKETS.perps:
        amm = _decoded(MARKETS, view.address).amm
        h = amm.historical_oracle_data
        gap = amm.last_mark_price_twap - h.last_oracle_price_twap
        signs[(gap > 0) - (gap < 0)] += 1
        mark_ts, oracle_ts = amm.last_mark_price_twap_ts, h.last_oracle_price_twap_ts
        order[
            "mark newer"
            if mark_ts > oracle_ts
            else "oracle newer"
            if mark_ts < oracle_ts
            else "same"
        ] += 1
        assert abs(gap) <= h.last_oracle_price_twap * 0.005
        assert amm.last_bid_price_twap < amm.last_mark_price_twap < amm.last_ask_price_twap
        assert min(mark_ts, oracle_ts) > NOW - 3600
        assert max(mark_ts, oracle_ts) <= NOW
    assert signs[1] >= 20
    assert signs[-1] >= 20
    assert min(order.values()) >= 5
    assert len(order) == 3


def test_mm_oracle_modes_all_occur_with_the_default_share() -> None:
    """Inactive, fresh (used), stale and divergent MM oracles all occur, and the SDK's
    rule uses exactly the fresh ones."""
    modes = Counter(v.profile.mm.mode for v in MARKETS.perps)
    assert set(modes) == set(MM_MODES)
    assert 30 <= modes["inactive"] <= 55  # about half the markets have one
    assert min(modes.values()) >= 5
    for view in MARKETS.perps:
        perp = _decoded(MARKETS, view.address)
        used = _sdk_uses_mm_oracle(MARKETS, view)
        assert used == (view.profile.mm.mode == "fresh"), view.spec.symbol
        assert (perp.amm.mm_oracle_slot == 0) == (view.profile.mm.mode == "inactive")
    styles = {
        (v.profile.mm.mode, v.profile.mm.sequence_style, v.profile.mm.stale_by)
        for v in MARKETS.perps
    }
    assert {s[1] for s in styles if s[0] == "fresh"} == {"near", "zero", "far"}
    assert {s[2] for s in styles if s[0] == "stale"} >= {"sequence", "slot"}


@pytest.mark.parametrize(("share", "active"), [(0.0, 0), (1.0, 85)])
def test_mm_oracle_share_sets_how_many_markets_have_one(share: float, active: int) -> None:
    """Share 0: no MM oracle anywhere; share 1: every market has one."""
    markets = DriftMarkets(Ledger(), preset("mainnet"), now=NOW, mm_oracle_share=share)
    assert sum(v.account.amm.mm_oracle_slot != 0 for v in markets.perps) == active


def test_oracle_sequence_ids_advance_with_price_updates() -> None:
    """Each oracle write advances its publish time: Pyth Lazer in microseconds."""
    markets = DriftMarkets(Ledger(), preset("small"), now=NOW)
    sol = markets.perp("SOL-PERP")
    seen = []
    for price in (150_000_000, 151_000_000, 152_000_000):
        markets.set_oracle_price("SOL-PERP", price, ts=NOW + 1)
        lazer = _decoded(markets, sol.spec.oracle)
        assert lazer.publish_time == markets.oracle_reading(sol).sequence_id
        seen.append(lazer.publish_time)
    assert seen[0] >= (NOW + 1) * 10**6
    assert seen[0] < seen[1] < seen[2]


def test_spot_utilization_spans_the_range_and_rates_follow() -> None:
    """A few spot markets lend nothing, one is borrowed out to ~100 %, the rest spread
    in between; deposit and borrow rates are non-zero wherever anything is lent."""
    spots = [_decoded(MARKETS, v.address) for v in MARKETS.spots]
    assert len(spots) == 63
    utilization = sorted(calculate_utilization(s) for s in spots)
    assert 3 <= utilization.count(0) <= 6
    assert utilization[-1] >= 990_000
    deciles = {u * 10 // 10**6 for u in utilization if u < 10**6}
    assert len(deciles) >= 9
    for s in spots:
        assert s.cumulative_borrow_interest >= s.cumulative_deposit_interest >= 10**10
        assert s.decimals == MARKETS.spot(s.market_index).spec.decimals
        if calculate_utilization(s) > 0:
            assert calculate_borrow_rate(s) > calculate_deposit_rate(s) > 0
    assert len({s.optimal_borrow_rate for s in spots}) > 5
    assert any(s.min_borrow_rate > 0 for s in spots)


def _run(seed: int, steps: int = 30) -> DriftMarkets:
    markets = DriftMarkets(Ledger(), preset("mainnet"), now=NOW)
    simulator = MarketSimulator(markets, SimulationConfig(seed=seed, volatility=0.001))
    for i in range(steps):
        markets._ledger.advance_slot()
        simulator.step_prices(now=NOW + 1 + i)
        if i % 10 == 9:
            simulator.update_funding(now=NOW + 1 + i)
    return markets


RUN = _run(seed=7)


def test_simulation_moves_markets_and_keeps_them_sane() -> None:
    """After simulated steps: TWAPs and MM quotes moved on, spot interest grew, bid and
    ask still sane, and the SDK's rule still uses only fresh MM oracles (most of them:
    a fresh one now and then misses a step)."""
    _assert_sane(RUN, NOW + 60)
    moved = used = fresh = 0
    for before, after in zip(MARKETS.perps, RUN.perps, strict=True):
        a0 = _decoded(MARKETS, before.address).amm
        perp = _decoded(RUN, after.address)
        a1 = perp.amm
        moved += a1.last_mark_price_twap_ts > a0.last_mark_price_twap_ts
        assert a1.last_funding_rate_ts == NOW + 30
        if after.profile.mm.mode == "fresh":
            fresh += 1
            used += _sdk_uses_mm_oracle(RUN, after)
            assert a1.mm_oracle_slot > a0.mm_oracle_slot
        elif after.profile.mm.mode != "inactive":
            assert not _sdk_uses_mm_oracle(RUN, after)
    assert moved == 85  # every market settled funding, moving its TWAPs to now
    assert used >= fresh * 0.8
    for spot0, spot1 in zip(MARKETS.spots, RUN.spots, strict=True):
        s0, s1 = _decoded(MARKETS, spot0.address), _decoded(RUN, spot1.address)
        assert s1.cumulative_deposit_interest >= s0.cumulative_deposit_interest
        if s0.borrow_balance:
            assert s1.cumulative_borrow_interest > s0.cumulative_borrow_interest
    rates = [_decoded(RUN, v.address).amm.last_funding_rate for v in RUN.perps]
    assert min(rates) < 0 < max(rates)
    assert statistics.median(abs(r) for r in rates) > 0


def _bytes(markets: DriftMarkets) -> dict[str, bytes]:
    ledger = markets._ledger
    return {key: acc.data for key, acc in ledger._accounts.items()}


def test_same_seed_same_accounts() -> None:
    """Determinism: the same preset, start and seed give byte-identical accounts; another
    seed gives other ones."""
    first = _bytes(_run(seed=7, steps=10))
    assert _bytes(_run(seed=7, steps=10)) == first
    other = _bytes(_run(seed=8, steps=10))
    assert other.keys() == first.keys()
    assert other != first
    assert _bytes(DriftMarkets(Ledger(), preset("mainnet"), now=NOW)) == _bytes(MARKETS)


def test_every_account_decodes_with_driftpy() -> None:
    """State, every perp and spot market and every oracle decode with driftpy."""
    assert _decoded(MARKETS, STATE_ADDRESS).number_of_spot_markets == 63
    rails = _decoded(MARKETS, STATE_ADDRESS).oracle_guard_rails
    assert rails.price_divergence.oracle_twap5min_percent_divergence == 500_000
    assert rails.validity.slots_before_stale_for_amm == 10
    for view in MARKETS.perps:
        assert _decoded(MARKETS, view.address).market_index == view.spec.market_index
        assert _oracle(MARKETS, view).price == view.oracle_price
        assert _oracle(MARKETS, view).sequence_id == MARKETS.oracle_reading(view).sequence_id
    for spot in MARKETS.spots:
        assert _decoded(MARKETS, spot.address).market_index == spot.spec.market_index


def _sdk_calls(markets: DriftMarkets, view: PerpView, now: int) -> list[Call]:
    """The SDK reading localnet's bytes with its own coder and oracle client, then
    choosing the MM oracle or the oracle (bid and ask follow in a second batch)."""

    def raw(address: object, kind: str) -> dict[str, Any]:
        return {
            "$account": {
                "type": kind,
                "base64": base64.b64encode(_bytes_of(markets, address)).decode(),
            }
        }

    source = variant(view.spec.oracle_source)
    oracle = base64.b64encode(_bytes_of(markets, view.spec.oracle)).decode()
    return [
        Call("decodeOracle", source, oracle),
        Call(
            "getMMOracleDataForPerpMarket",
            raw(view.address, "PerpMarket"),
            _oracle(markets, view),
            raw(STATE_ADDRESS, "State"),
            now=now,
        ),
    ]


@pytest.mark.parametrize("which", ["start", "after the simulation"])
def test_the_official_sdk_prices_every_market_as_ours(sdk: SdkReference, which: str) -> None:
    """The SDK 2.156, reading localnet's bytes itself: its oracle clients read what ours
    read (price, slot, confidence, sequence id), it uses the MM oracle on exactly the
    markets ours does, and its bid and ask equal ours, so they are sane too."""
    markets = MARKETS if which == "start" else RUN
    now = NOW + 60
    first = sdk.batch(c for view in markets.perps for c in _sdk_calls(markets, view, now))
    asks: list[Call] = []
    for i, view in enumerate(markets.perps):
        decoded, mm = first[2 * i], mm_oracle_data(first[2 * i + 1])
        oracle = _oracle(markets, view)
        assert decoded["price"] == oracle.price == view.oracle_price
        assert (decoded["slot"], decoded["confidence"]) == (oracle.slot, oracle.confidence)
        assert decoded.get("sequenceId") == oracle.sequence_id
        _, _, ours = _priced(markets, view)
        assert (mm.mm_oracle_used, mm.price) == (ours.mm_oracle_used, ours.price), view.spec.symbol
        market = perp_market_of(_decoded(markets, view.address))
        asks.append(
            Call("calculateBidAskPrice", market.amm, mm, True, view.spec.prediction, None, now=now)
        )
    for view, sdk_bid_ask in zip(markets.perps, sdk.batch(asks), strict=True):
        bid, ask, _ = _bid_ask(markets, view, now)
        assert sdk_bid_ask == [bid, ask], view.spec.symbol
