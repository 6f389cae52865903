"""The AMM's inventory and leverage as the SDK's spread and reference offset weigh them.

Mirrors the SDK's `calculateMarketOpenBidAsk`, `calculateInventoryLiquidityRatio`
(and its `ForReferencePriceOffset` variant), `calculateInventoryScale` and
`calculateEffectiveLeverage` (`math/amm.ts`); the last two return float64, as the SDK's
do (see `streamer.math.spread`).
"""

from __future__ import annotations

from streamer.math.constants import (
    AMM_TIMES_PEG_TO_QUOTE_PRECISION_RATIO,
    AMM_TO_QUOTE_PRECISION_RATIO,
    BID_ASK_SPREAD_PRECISION,
    PERCENTAGE_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
)
from streamer.math.safe_math import bn_from_number, safe_div, to_number

__all__ = [
    "calculate_effective_leverage",
    "calculate_inventory_liquidity_ratio",
    "calculate_inventory_scale",
    "calculate_market_open_bid_ask",
]

_MAX_BID_ASK_INVENTORY_SKEW_FACTOR = BID_ASK_SPREAD_PRECISION * 10


def calculate_market_open_bid_ask(
    base_asset_reserve: int, min_base_asset_reserve: int, max_base_asset_reserve: int
) -> tuple[int, int]:
    """(open bids, open asks) the AMM can absorb before its reserve bounds; asks negative."""
    open_asks = (
        -(base_asset_reserve - min_base_asset_reserve)
        if min_base_asset_reserve < base_asset_reserve
        else 0
    )
    open_bids = (
        max_base_asset_reserve - base_asset_reserve
        if max_base_asset_reserve > base_asset_reserve
        else 0
    )
    return open_bids, open_asks


def calculate_inventory_liquidity_ratio(
    base_asset_amount_with_amm: int,
    base_asset_reserve: int,
    min_base_asset_reserve: int,
    max_base_asset_reserve: int,
    *,
    average_sides: bool = False,
) -> int:
    """The AMM's inventory as a fraction (1e6, capped at 1) of its thinner side's
    liquidity, or of both sides' average (`average_sides`, for the reference offset)."""
    open_bids, open_asks = calculate_market_open_bid_ask(
        base_asset_reserve, min_base_asset_reserve, max_base_asset_reserve
    )
    if average_sides:
        liquidity = safe_div(abs(open_bids) + abs(open_asks), 2)
    else:
        liquidity = min(abs(open_bids), abs(open_asks))
    ratio = abs(safe_div(base_asset_amount_with_amm * PERCENTAGE_PRECISION, max(liquidity, 1)))
    return min(ratio, PERCENTAGE_PRECISION)


def calculate_inventory_scale(
    base_asset_amount_with_amm: int,
    base_asset_reserve: int,
    min_base_asset_reserve: int,
    max_base_asset_reserve: int,
    directional_spread: float,
    max_spread: float,
) -> float:
    """How much the inventory widens the spread on its side (a float >= 1)."""
    if base_asset_amount_with_amm == 0:
        return 1.0
    ratio = calculate_inventory_liquidity_ratio(
        base_asset_amount_with_amm,
        base_asset_reserve,
        min_base_asset_reserve,
        max_base_asset_reserve,
    )
    scale_max = max(
        _MAX_BID_ASK_INVENTORY_SKEW_FACTOR,
        safe_div(
            bn_from_number(max_spread) * BID_ASK_SPREAD_PRECISION,
            bn_from_number(max(directional_spread, 1.0)),
        ),
    )
    capped = min(
        scale_max,
        BID_ASK_SPREAD_PRECISION + safe_div(scale_max * ratio, PERCENTAGE_PRECISION),
    )
    return to_number(capped) / float(BID_ASK_SPREAD_PRECISION)


def calculate_effective_leverage(
    quote_asset_reserve: int,
    terminal_quote_asset_reserve: int,
    peg_multiplier: int,
    net_base_asset_amount: int,
    reserve_price: int,
    total_fee_minus_distributions: int,
) -> float:
    """The AMM's exposure beyond its terminal value, relative to its fee pool."""
    net_base_asset_value = safe_div(
        (quote_asset_reserve - terminal_quote_asset_reserve) * peg_multiplier,
        AMM_TIMES_PEG_TO_QUOTE_PRECISION_RATIO,
    )
    local_base_asset_value = safe_div(
        net_base_asset_amount * reserve_price, AMM_TO_QUOTE_PRECISION_RATIO * PRICE_PRECISION
    )
    effective_gap = max(0.0, to_number(local_base_asset_value - net_base_asset_value))
    return effective_gap / (max(0.0, to_number(total_fee_minus_distributions)) + 1.0) + 1.0 / float(
        QUOTE_PRECISION
    )
