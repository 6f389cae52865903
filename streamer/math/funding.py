"""The live funding estimate and the next funding time.

Mirrors the SDK's `math/funding.ts` (`calculateLiveMarkTwap`, `shrinkStaleTwaps`,
`calculateAllEstimatedFundingRate`, `calculateLongShortFundingRateAndLiveTwaps`,
`calculateFundingPool`) and `timeRemainingUntilUpdate` (`math/utils.ts`), which follow
the program's `controller/funding.rs` and `math/funding.rs`: the premium of the live
mark TWAP over the live oracle TWAP, offset and clamped per contract tier, as percent
* 1e6 per hour; the side that pays more is capped by the funding pool.

The live mark TWAP takes the AMM's bid/ask mid as the current mark price, as the SDK
does when no `mark_price` is given (the streamer gives none).
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.math.amm import calculate_bid_ask_price
from streamer.math.constants import (
    AMM_RESERVE_PRECISION,
    FUNDING_RATE_OFFSET_DENOMINATOR,
    ONE_HOUR,
    PRICE_PRECISION,
    QUOTE_PRECISION,
)
from streamer.math.oracle import calculate_live_oracle_twap
from streamer.math.safe_math import clamp, safe_div, umod
from streamer.math.types import MMOraclePriceData, OraclePriceData, PerpMarket

__all__ = [
    "FundingEstimate",
    "calculate_all_estimated_funding_rate",
    "calculate_funding_pool",
    "calculate_live_mark_twap",
    "calculate_long_short_funding_rate_and_live_twaps",
    "next_funding_wait",
    "shrink_stale_twaps",
    "time_remaining_until_update",
]

_HOURS_PER_DAY = 24


@dataclass(frozen=True, slots=True)
class FundingEstimate:
    """The SDK's five estimate values: live TWAPs (1e6) and rates (percent * 1e6)."""

    mark_twap: int
    oracle_twap: int
    lower_bound: int
    capped_alt: int
    interpolated: int


def calculate_live_mark_twap(
    market: PerpMarket, mm_oracle: MMOraclePriceData, now: int, mark_price: int | None = None
) -> int:
    """The mark TWAP brought up to `now` with `mark_price` (default: the bid/ask mid)."""
    amm = market.amm
    period = amm.funding_period
    since_last = now - amm.last_mark_price_twap_ts
    weight = max(period, max(0, period - since_last))
    if mark_price is None:
        bid, ask = calculate_bid_ask_price(amm, mm_oracle, now)
        mark_price = safe_div(bid + ask, 2)
    return safe_div(
        weight * amm.last_mark_price_twap + since_last * mark_price, since_last + weight
    )


def shrink_stale_twaps(
    market: PerpMarket, mark_twap: int, oracle_twap: int, now: int
) -> tuple[int, int]:
    """Pull the TWAP that went without updates toward the other, by how long it lagged."""
    amm = market.amm
    mark_ts = amm.last_mark_price_twap_ts
    oracle_ts = amm.historical_oracle_data.last_oracle_price_twap_ts
    period = amm.funding_period
    if mark_ts > oracle_ts:
        invalid = max(0, mark_ts - oracle_ts)
        weight = max(1, min(period, max(1, period - (now - oracle_ts))))
        oracle_twap = safe_div(weight * oracle_twap + invalid * mark_twap, weight + invalid)
    elif mark_ts < oracle_ts:
        tradeless = max(0, oracle_ts - mark_ts)
        weight = max(1, min(period, max(1, period - (now - mark_ts))))
        mark_twap = safe_div(weight * mark_twap + tradeless * oracle_twap, weight + tradeless)
    return mark_twap, oracle_twap


def _max_price_divergence(market: PerpMarket, oracle_twap: int) -> int:
    if market.contract_tier in ("A", "B"):
        return safe_div(oracle_twap, 33)
    if market.contract_tier == "C":
        return safe_div(oracle_twap, 20)
    return safe_div(oracle_twap, 10)


def calculate_funding_pool(market: PerpMarket) -> int:
    """The fee pool that may fund the cheaper side: a third of fees above half the
    exchange fees (never negative)."""
    amm = market.amm
    total_fee_lb = safe_div(amm.total_exchange_fee, 2)
    return max(0, safe_div((amm.total_fee_minus_distributions - total_fee_lb) * 1, 3))


def calculate_all_estimated_funding_rate(
    market: PerpMarket,
    mm_oracle: MMOraclePriceData,
    oracle: OraclePriceData,
    now: int,
    mark_price: int | None = None,
) -> FundingEstimate:
    """The live TWAPs and the lower-bound, capped-alternative and interpolated estimates."""
    if market.status == "Uninitialized":
        return FundingEstimate(0, 0, 0, 0, 0)
    amm = market.amm
    live_mark = calculate_live_mark_twap(market, mm_oracle, now, mark_price)
    live_oracle = calculate_live_oracle_twap(
        amm.historical_oracle_data, oracle, now, amm.funding_period
    )
    mark_twap, oracle_twap = shrink_stale_twaps(market, live_mark, live_oracle, now)

    twap_spread = mark_twap - oracle_twap
    with_offset = twap_spread + safe_div(abs(oracle_twap), FUNDING_RATE_OFFSET_DENOMINATOR)
    max_spread = _max_price_divergence(market, oracle_twap)
    clamped = clamp(with_offset, -max_spread, max_spread)
    spread_pct = safe_div(clamped * PRICE_PRECISION * 100, oracle_twap)

    since_update = now - amm.last_funding_rate_ts
    lower_bound = safe_div(
        safe_div(
            safe_div(spread_pct * amm.funding_period * min(ONE_HOUR, since_update), ONE_HOUR),
            ONE_HOUR,
        ),
        _HOURS_PER_DAY,
    )
    interpolated = safe_div(spread_pct, _HOURS_PER_DAY)
    rate_quote = safe_div(interpolated, safe_div(PRICE_PRECISION, QUOTE_PRECISION))
    fee_pool = calculate_funding_pool(market)
    if rate_quote < 0:
        fee_pool = -fee_pool

    def estimate(capped_alt: int) -> FundingEstimate:
        return FundingEstimate(mark_twap, oracle_twap, lower_bound, capped_alt, interpolated)

    long, short = amm.base_asset_amount_long, abs(amm.base_asset_amount_short)
    if long > short:
        larger, smaller = abs(long), short
        if twap_spread > 0:
            return estimate(interpolated)
    elif long < short:
        larger, smaller = short, abs(long)
        if twap_spread < 0:
            return estimate(interpolated)
    else:
        return estimate(interpolated)

    if larger <= 0:
        return estimate(interpolated)
    capped = safe_div(smaller * twap_spread, _HOURS_PER_DAY)
    top_off = fee_pool * safe_div(PRICE_PRECISION, QUOTE_PRECISION) * AMM_RESERVE_PRECISION
    capped = safe_div(capped + top_off, larger)
    capped = safe_div(capped * PRICE_PRECISION * 100, oracle_twap)
    if abs(capped) >= abs(interpolated):
        capped = interpolated
    return estimate(capped)


def calculate_long_short_funding_rate_and_live_twaps(
    market: PerpMarket,
    mm_oracle: MMOraclePriceData,
    oracle: OraclePriceData,
    now: int,
    mark_price: int | None = None,
) -> tuple[int, int, int, int]:
    """(live mark TWAP, live oracle TWAP, long rate, short rate): the heavier side pays
    the capped estimate, the other the interpolated one (percent * 1e6 per hour)."""
    est = calculate_all_estimated_funding_rate(market, mm_oracle, oracle, now, mark_price)
    long, short = market.amm.base_asset_amount_long, abs(market.amm.base_asset_amount_short)
    if long > short:
        return est.mark_twap, est.oracle_twap, est.capped_alt, est.interpolated
    if long < short:
        return est.mark_twap, est.oracle_twap, est.interpolated, est.capped_alt
    return est.mark_twap, est.oracle_twap, est.interpolated, est.interpolated


def next_funding_wait(last_update_ts: int, period: int) -> int:
    """Seconds from `last_update_ts` until the next update may land, on the hour: the
    program lets an update come on the next period boundary unless the last one came
    more than a third of a period late, then the one after."""
    wait = period
    if period > 1:
        delay = umod(last_update_ts, period)
        if delay != 0:
            max_delay = safe_div(period, 3)
            two_periods = period * 2
            wait = two_periods - delay if delay > max_delay else period - delay
            if wait > two_periods:
                wait -= period
    return wait


def time_remaining_until_update(now: int, last_update_ts: int, period: int) -> int:
    """The SDK's `timeRemainingUntilUpdate`: seconds until the next update (0 if due)."""
    remaining = next_funding_wait(last_update_ts, period) - (now - last_update_ts)
    return 0 if remaining < 0 else remaining
