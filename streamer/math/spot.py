"""Spot market balances and interest rates.

Mirrors the SDK's `math/spotBalance.ts` (`getTokenAmount`, `calculateUtilization`,
`calculateInterestRate`, `calculateBorrowRate`, `calculateDepositRate`), which follow
the program's `math/spot_balance.rs`: balances scale by cumulative interest into token
amounts; the borrow rate rises linearly to the optimal rate at optimal utilization,
then over fixed weighted segments to the max rate; depositors earn the borrow rate
times utilization, less the insurance fund's share.
"""

from __future__ import annotations

from streamer.math.constants import (
    PERCENTAGE_PRECISION,
    SPOT_BALANCE_PRECISION_DECIMALS,
    SPOT_MARKET_UTILIZATION_PRECISION,
)
from streamer.math.safe_math import ceil_div, pow10, safe_div
from streamer.math.types import SpotMarket

__all__ = [
    "calculate_borrow_rate",
    "calculate_deposit_rate",
    "calculate_interest_rate",
    "calculate_utilization",
    "get_token_amount",
]

# Above optimal utilization the extra rate is spread over these segments:
# (utilization where the segment ends, its weight in 1/1000 of the extra rate).
_SEGMENTS = (
    (850_000, 50),
    (900_000, 100),
    (950_000, 150),
    (990_000, 200),
    (995_000, 250),
    (SPOT_MARKET_UTILIZATION_PRECISION, 250),
)
_WEIGHTS_DIVISOR = 1000


def get_token_amount(balance: int, market: SpotMarket, *, borrow: bool) -> int:
    """A scaled balance as a token amount (10**decimals): deposits round down, borrows up."""
    precision_decrease = pow10(SPOT_BALANCE_PRECISION_DECIMALS - market.decimals)
    if borrow:
        return ceil_div(balance * market.cumulative_borrow_interest, precision_decrease)
    return safe_div(balance * market.cumulative_deposit_interest, precision_decrease)


def calculate_utilization(market: SpotMarket, delta: int = 0) -> int:
    """Borrows over deposits (1e6); `delta` > 0 adds deposits, < 0 adds borrows."""
    deposits = get_token_amount(market.deposit_balance, market, borrow=False)
    borrows = get_token_amount(market.borrow_balance, market, borrow=True)
    if delta > 0:
        deposits += delta
    elif delta < 0:
        borrows += abs(delta)
    if borrows == 0 and deposits == 0:
        return 0
    if deposits == 0:
        return SPOT_MARKET_UTILIZATION_PRECISION
    return safe_div(borrows * SPOT_MARKET_UTILIZATION_PRECISION, deposits)


def calculate_interest_rate(
    market: SpotMarket, delta: int = 0, utilization: int | None = None
) -> int:
    """The yearly borrow rate (PERCENTAGE_PRECISION) at `utilization` (default: current)."""
    if utilization is None:
        utilization = calculate_utilization(market, delta)
    optimal_util = market.optimal_utilization
    optimal_rate = market.optimal_borrow_rate
    min_rate = market.min_borrow_rate * safe_div(PERCENTAGE_PRECISION, 200)
    if utilization <= optimal_util:
        slope = safe_div(optimal_rate * SPOT_MARKET_UTILIZATION_PRECISION, optimal_util)
        rate = safe_div(utilization * slope, SPOT_MARKET_UTILIZATION_PRECISION)
    else:
        extra = market.max_borrow_rate - optimal_rate
        rate = optimal_rate
        previous = optimal_util
        for breakpoint, weight in _SEGMENTS:
            end = min(breakpoint, SPOT_MARKET_UTILIZATION_PRECISION)
            segment_rate = safe_div(extra * weight, _WEIGHTS_DIVISOR)
            if utilization <= end:
                rate += safe_div(segment_rate * (utilization - previous), end - previous)
                break
            rate += segment_rate
            previous = end
    return max(min_rate, rate)


def calculate_borrow_rate(
    market: SpotMarket, delta: int = 0, utilization: int | None = None
) -> int:
    """The yearly borrow rate (PERCENTAGE_PRECISION)."""
    return calculate_interest_rate(market, delta, utilization)


def calculate_deposit_rate(
    market: SpotMarket, delta: int = 0, utilization: int | None = None
) -> int:
    """The yearly deposit rate (PERCENTAGE_PRECISION): the borrow rate times utilization,
    less the insurance fund's `total_factor`."""
    if utilization is None:
        utilization = calculate_utilization(market, delta)
    borrow_rate = calculate_borrow_rate(market, delta, utilization)
    return safe_div(
        safe_div(
            borrow_rate * (PERCENTAGE_PRECISION - market.insurance_fund_total_factor) * utilization,
            SPOT_MARKET_UTILIZATION_PRECISION,
        ),
        PERCENTAGE_PRECISION,
    )
