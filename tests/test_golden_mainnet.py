"""Real mainnet accounts (tests/fixtures/mainnet/) priced by our pipeline and by the
official SDK, from the same bytes: every figure we would publish is the SDK's."""

from __future__ import annotations

import base64
from typing import Any

from localnet.markets import STATE_ADDRESS
from streamer.account_decode import decode_perp, decode_spot
from streamer.decode import guard_rails_of, market_state, spot_state, variant
from streamer.models import funding_rate, market_snapshot, spot_snapshot
from tests.mainnet_fixtures import (
    MarketOracle,
    load_accounts,
    market_oracle_pairs,
    market_slot,
    oracle_reading,
)
from tests.sdk_figures import (
    SdkDriftClient,
    model_differences,
    perp_state_of,
    spot_state_of,
    state_differences,
)

ACCOUNTS = load_accounts()
PAIRS = market_oracle_pairs(ACCOUNTS)
STATE = ACCOUNTS[str(STATE_ADDRESS)]
RAILS = guard_rails_of(STATE.decoded)
# Seconds after a market's newest TWAP or funding stamp the estimate is taken at:
# inside the TWAP window, near its end, and long after (stale TWAPs shrink).
OFFSETS = (0, 30, 900, 3_599, 4_000, 86_400)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _nows(pair: MarketOracle) -> list[int]:
    amm = pair.market.decoded.amm
    newest = max(
        int(amm.last_mark_price_twap_ts),
        int(amm.historical_oracle_data.last_oracle_price_twap_ts),
        int(amm.last_funding_rate_ts),
    )
    return [newest + offset for offset in OFFSETS]


def _perp_item(pair: MarketOracle, now: int) -> dict[str, Any]:
    return {
        "market": _b64(pair.market.data),
        "oracle": None if pair.oracle is None else _b64(pair.oracle.data),
        "oracle_source": variant(pair.source),
        "state": _b64(STATE.data),
        "now": now,
        "market_slot": market_slot(pair),
        "oracle_slot": None if pair.oracle is None else pair.oracle.provenance.data_slot,
    }


def test_the_fixtures_cover_what_the_comparison_needs() -> None:
    """Perp and spot markets with their oracles, a prediction market, markets with
    reference offsets, the MM oracle set on current-layout accounts, several sources."""
    perps = [p for p in PAIRS if p.market.kind == "PerpMarket"]
    spots = [p for p in PAIRS if p.market.kind == "SpotMarket"]
    assert len([p for p in perps if p.oracle is not None]) >= 5
    assert len([p for p in spots if p.oracle is not None]) >= 3
    assert any(int(p.market.decoded.amm.mm_oracle_slot) != 0 for p in perps)
    assert any(int(p.market.decoded.amm.reference_price_offset) != 0 for p in perps)
    assert any(variant(p.market.decoded.contract_type) == "Prediction" for p in perps)
    assert len({variant(p.source) for p in PAIRS if p.oracle is not None}) >= 4


async def test_mainnet_markets_equal_the_sdk() -> None:
    """Every fixture perp market at six `now`s and every spot market: our state and the
    published models equal the SDK's figures from the same account bytes."""
    perps = [(p, now) for p in PAIRS if p.market.kind == "PerpMarket" for now in _nows(p)]
    spots = [p for p in PAIRS if p.market.kind == "SpotMarket"]
    async with SdkDriftClient() as sdk:
        figures = await sdk.compute(
            [_perp_item(p, now) for p, now in perps],
            [
                {
                    "market": _b64(p.market.data),
                    "oracle": None if p.oracle is None else _b64(p.oracle.data),
                    "oracle_source": variant(p.source),
                    "market_slot": market_slot(p),
                    "oracle_slot": None,
                }
                for p in spots
            ],
        )
    problems: list[str] = []
    priced = 0
    for (pair, now), fig in zip(perps, figures["perps"], strict=True):
        market = decode_perp(pair.market.data)
        ours = market_state(market, market_slot(pair), oracle_reading(pair), RAILS, now)
        theirs = perp_state_of(fig, ours, now)
        where = f"{ours.symbol} at now={now}"
        problems += [f"{where}: {d}" for d in state_differences(ours, theirs)]
        for build in (funding_rate, market_snapshot):
            a = build(ours, network="mainnet", slot=1, ts=now, epoch=1)
            b = build(theirs, network="mainnet", slot=1, ts=now, epoch=1)
            problems += [f"{where} {build.__name__}: {d}" for d in model_differences(a, b)]
        priced += ours.bid_price is not None and ours.predicted_long is not None
    for pair, fig in zip(spots, figures["spots"], strict=True):
        ours_spot = spot_state(
            decode_spot(pair.market.data), market_slot(pair), oracle_reading(pair)
        )
        theirs_spot = spot_state_of(fig, ours_spot)
        problems += [f"{ours_spot.symbol}: {d}" for d in state_differences(ours_spot, theirs_spot)]
        published = spot_snapshot(ours_spot, network="mainnet", slot=1, ts=0, epoch=1)
        expected = spot_snapshot(theirs_spot, network="mainnet", slot=1, ts=0, epoch=1)
        problems += [f"{ours_spot.symbol}: {d}" for d in model_differences(published, expected)]
    assert problems == []
    assert priced >= 30  # bid/ask and estimates computed, not only matching failures
