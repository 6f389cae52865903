"""Bid, ask and mark of the AMM: spread reserves around the (repegged) curve.

Mirrors the SDK's `calculateBidAskPrice` and `calculateSpreadReserves` (`math/amm.ts`):
repeg toward the price reading (`repeg.calculate_updated_amm`), take the long and short
spreads (`spread.calculate_spread`), shift both by the reference price offset the
inventory and recent premiums call for, and price the reserves each spread implies.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.math.constants import (
    BID_ASK_SPREAD_PRECISION,
    FUNDING_RATE_BUFFER_PRECISION,
    PEG_PRECISION,
    PERCENTAGE_PRECISION,
    PRICE_PRECISION,
)
from streamer.math.inventory import calculate_inventory_liquidity_ratio
from streamer.math.repeg import calculate_price, calculate_updated_amm
from streamer.math.safe_math import (
    bn_from_number,
    clamp,
    js_sign,
    js_trunc,
    safe_div,
    sig_num,
    square_root,
    to_number,
)
from streamer.math.spread import calculate_spread
from streamer.math.types import Amm, PriceReading

__all__ = [
    "Reserves",
    "calculate_bid_ask_price",
    "calculate_reference_price_offset",
    "calculate_spread_reserves",
    "prediction_market_quote_bounds",
]


@dataclass(frozen=True, slots=True)
class Reserves:
    base_asset_reserve: int
    quote_asset_reserve: int


def calculate_reference_price_offset(
    reserve_price: int,
    last24h_avg_funding_rate: int,
    liquidity_fraction: int,
    oracle_twap_fast: int,
    mark_twap_fast: int,
    oracle_twap_slow: int,
    mark_twap_slow: int,
    max_offset_pct: float,
) -> int:
    """The price offset (1e6 of the reserve price) the inventory and the minute, hour and
    day premiums agree on, within +-`max_offset_pct`; 0 when they disagree."""
    if last24h_avg_funding_rate == 0 or liquidity_fraction == 0:
        return 0
    max_offset = bn_from_number(max_offset_pct)
    max_offset_in_price = safe_div(max_offset * reserve_price, PERCENTAGE_PRECISION)
    premium_minute = clamp(
        mark_twap_fast - oracle_twap_fast, -max_offset_in_price, max_offset_in_price
    )
    premium_hour = clamp(
        mark_twap_slow - oracle_twap_slow, -max_offset_in_price, max_offset_in_price
    )
    premium_day = clamp(
        safe_div(last24h_avg_funding_rate, FUNDING_RATE_BUFFER_PRECISION) * 24,
        -max_offset_in_price,
        max_offset_in_price,
    )
    premium_avg = safe_div(premium_minute + premium_hour + premium_day, 3)
    premium_avg_pct = safe_div(premium_avg * PRICE_PRECISION, reserve_price)
    offset_pct = safe_div(premium_avg_pct * abs(liquidity_fraction), 2)
    if sig_num(liquidity_fraction) != sig_num(premium_avg_pct):
        offset_pct = 0
    return clamp(offset_pct, bn_from_number(-max_offset_pct), max_offset)


def prediction_market_quote_bounds(amm: Amm, long: bool) -> tuple[int, int]:
    """(lower, upper) quote reserve bounds that keep a prediction market's price in (0, 1)."""
    peg_sqrt = square_root(amm.peg_multiplier * PEG_PRECISION + 1) + 1
    lower = 0
    upper = safe_div(amm.sqrt_k * peg_sqrt, amm.peg_multiplier)
    if long:
        lower = safe_div(safe_div(amm.sqrt_k * 22361 * peg_sqrt, 100000), amm.peg_multiplier)
    else:
        upper = safe_div(safe_div(amm.sqrt_k * 97467 * peg_sqrt, 100000), amm.peg_multiplier)
    return lower, upper


def _spread_reserve(amm: Amm, spread: float, *, long: bool, is_prediction: bool) -> Reserves:
    """The reserves quoting `spread` (1e6, signed) off the curve."""
    if spread == 0:
        return Reserves(amm.base_asset_reserve, amm.quote_asset_reserve)
    fraction = safe_div(bn_from_number(spread), 2)
    if fraction == 0:
        fraction = 1 if spread >= 0 else -1
    delta = safe_div(amm.quote_asset_reserve, safe_div(BID_ASK_SPREAD_PRECISION, fraction))
    quote = (
        amm.quote_asset_reserve + abs(delta) if delta >= 0 else amm.quote_asset_reserve - abs(delta)
    )
    if is_prediction:
        lower, upper = prediction_market_quote_bounds(amm, long)
        quote = clamp(quote, lower, upper)
    return Reserves(safe_div(amm.sqrt_k * amm.sqrt_k, quote), quote)


def _reference_offset(amm: Amm, reserve_price: int) -> int:
    """The reference price offset of markets with `curve_update_intensity` above 100."""
    if amm.curve_update_intensity == 200:
        max_offset = max(float(amm.max_spread) / 2.0, 10_000.0)
    else:
        max_offset = min(
            float(amm.max_spread) / 2.0,
            (float(PERCENTAGE_PRECISION) / 10000.0) * float(amm.curve_update_intensity - 100),
        )
    fraction = calculate_inventory_liquidity_ratio(
        amm.base_asset_amount_with_amm,
        amm.base_asset_reserve,
        amm.min_base_asset_reserve,
        amm.max_base_asset_reserve,
        average_sides=True,
    )
    fraction *= sig_num(amm.base_asset_amount_with_amm + amm.base_asset_amount_with_unsettled_lp)
    deadband = (
        safe_div(PERCENTAGE_PRECISION * amm.reference_price_offset_deadband_pct, 100)
        if amm.reference_price_offset_deadband_pct
        else 0
    )
    if fraction != 0 and deadband > 0:
        fraction = 0 if abs(fraction) <= deadband else fraction - deadband * sig_num(fraction)
    hist = amm.historical_oracle_data
    return calculate_reference_price_offset(
        reserve_price,
        amm.last24h_avg_funding_rate,
        fraction,
        hist.last_oracle_price_twap5min,
        amm.last_mark_price_twap5min,
        hist.last_oracle_price_twap,
        amm.last_mark_price_twap,
        max_offset,
    )


def calculate_spread_reserves(
    amm: Amm,
    oracle: PriceReading,
    now: int,
    *,
    is_prediction: bool = False,
    latest_slot: int | None = None,
) -> tuple[Reserves, Reserves]:
    """(bid, ask) reserves of the AMM as quoted against `oracle` at `now`.

    A reference offset that flips sign is moved toward the new value gradually
    (`latest_slot` - `last_update_slot` slots at 1000 a slot, at least 10), as the SDK
    does; with no `latest_slot` (the SDK's default) that is the minimum step.
    """
    reserve_price = calculate_price(
        amm.base_asset_reserve, amm.quote_asset_reserve, amm.peg_multiplier
    )
    offset = 0.0
    if amm.curve_update_intensity > 100:
        offset = to_number(_reference_offset(amm, reserve_price))
    long_spread, short_spread = calculate_spread(amm, oracle, now, reserve_price)

    stored = float(amm.reference_price_offset)
    if js_sign(offset) != js_sign(stored) and amm.curve_update_intensity > 100:
        slots_passed = 0.0
        if latest_slot is not None:
            slots_passed = to_number(max(latest_slot - amm.last_update_slot, 0))
        full_delta = offset - stored
        raw = js_trunc(min(abs(full_delta), slots_passed * 1000.0) / 10.0)
        max_allowed = abs(stored) or abs(offset)
        magnitude = min(max(raw, 10.0), max_allowed)
        delta = js_sign(full_delta) * magnitude
        offset = stored + delta
        if delta < 0:
            long_spread += abs(delta)
            short_spread += abs(offset)
        else:
            short_spread += abs(delta)
            long_spread += abs(offset)

    ask = _spread_reserve(amm, long_spread + offset, long=True, is_prediction=is_prediction)
    bid = _spread_reserve(amm, -short_spread + offset, long=False, is_prediction=is_prediction)
    return bid, ask


def calculate_bid_ask_price(
    amm: Amm,
    oracle: PriceReading,
    now: int,
    *,
    with_update: bool = True,
    is_prediction: bool = False,
    latest_slot: int | None = None,
) -> tuple[int, int]:
    """(bid, ask) prices of the AMM (PRICE_PRECISION) against the price reading."""
    updated = calculate_updated_amm(amm, oracle) if with_update else amm
    bid, ask = calculate_spread_reserves(
        updated, oracle, now, is_prediction=is_prediction, latest_slot=latest_slot
    )
    return (
        calculate_price(bid.base_asset_reserve, bid.quote_asset_reserve, updated.peg_multiplier),
        calculate_price(ask.base_asset_reserve, ask.quote_asset_reserve, updated.peg_multiplier),
    )
