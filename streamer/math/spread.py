"""The AMM's bid/ask spreads as the SDK computes them (`calculateSpread`, `math/amm.ts`).

The program computes spreads in integers (`math/amm_spread.rs`); the SDK, which is what
Drift's UI shows and our reference, computes `calculateSpreadBN` partly in float64:
BN terms are turned into JS numbers (`to_number`) and combined with `Math.max`,
`Math.floor`, `Math.ceil` and float multiplication. Here those parts are Python floats
(IEEE-754 doubles, as JS numbers are) with the same operations in the same order, so
results are bit-for-bit the SDK's. Spreads are in BID_ASK_SPREAD_PRECISION (1e6) units.
"""

from __future__ import annotations

from streamer.math.constants import (
    BID_ASK_SPREAD_PRECISION,
    DEFAULT_REVENUE_SINCE_LAST_FUNDING_SPREAD_RETREAT,
    PERCENTAGE_PRECISION,
    PRICE_PRECISION,
)
from streamer.math.inventory import calculate_effective_leverage, calculate_inventory_scale
from streamer.math.oracle import calculate_live_oracle_std, get_new_oracle_conf_pct
from streamer.math.safe_math import (
    clamp,
    js_ceil,
    js_floor,
    safe_div,
    to_number,
)
from streamer.math.types import Amm, PriceReading

__all__ = [
    "calculate_spread",
    "calculate_spread_bn",
    "calculate_vol_spread_bn",
]

_MAX_SPREAD_SCALE = 10.0


def calculate_vol_spread_bn(
    last_oracle_conf_pct: int,
    reserve_price: int,
    mark_std: int,
    oracle_std: int,
    long_intensity: int,
    short_intensity: int,
    volume24h: int,
) -> tuple[int, int]:
    """(long, short) volatility spreads from confidence, price deviations and flow."""
    market_avg_std_pct = safe_div(
        safe_div((mark_std + oracle_std) * PERCENTAGE_PRECISION, reserve_price), 4
    )
    vol_spread = max(last_oracle_conf_pct, safe_div(market_avg_std_pct, 2))
    low, high = safe_div(PERCENTAGE_PRECISION, 100), PERCENTAGE_PRECISION
    long_factor = clamp(
        safe_div(long_intensity * PERCENTAGE_PRECISION, max(1, volume24h)), low, high
    )
    short_factor = clamp(
        safe_div(short_intensity * PERCENTAGE_PRECISION, max(1, volume24h)), low, high
    )
    conf_component = last_oracle_conf_pct
    if last_oracle_conf_pct <= safe_div(PRICE_PRECISION, 400):
        conf_component = safe_div(last_oracle_conf_pct, 20)
    long_vol = max(conf_component, safe_div(vol_spread * long_factor, PERCENTAGE_PRECISION))
    short_vol = max(conf_component, safe_div(vol_spread * short_factor, PERCENTAGE_PRECISION))
    return long_vol, short_vol


def calculate_spread_bn(
    base_spread: int,
    last_oracle_reserve_price_spread_pct: int,
    last_oracle_conf_pct: int,
    max_spread: int,
    quote_asset_reserve: int,
    terminal_quote_asset_reserve: int,
    peg_multiplier: int,
    base_asset_amount_with_amm: int,
    reserve_price: int,
    total_fee_minus_distributions: int,
    net_revenue_since_last_funding: int,
    base_asset_reserve: int,
    min_base_asset_reserve: int,
    max_base_asset_reserve: int,
    mark_std: int,
    oracle_std: int,
    long_intensity: int,
    short_intensity: int,
    volume24h: int,
    amm_inventory_spread_adjustment: int,
) -> tuple[float, float]:
    """(long, short) spreads: volatility, reserve/oracle gap, inventory, leverage,
    revenue retreat and the inventory adjustment, capped at the max target spread."""
    long_vol_bn, short_vol_bn = calculate_vol_spread_bn(
        last_oracle_conf_pct,
        reserve_price,
        mark_std,
        oracle_std,
        long_intensity,
        short_intensity,
        volume24h,
    )
    long_vol, short_vol = to_number(long_vol_bn), to_number(short_vol_bn)
    half_base = float(base_spread) / 2.0
    long_spread = max(half_base, long_vol)
    short_spread = max(half_base, short_vol)
    gap_pct = last_oracle_reserve_price_spread_pct
    if gap_pct > 0:
        short_spread = max(short_spread, to_number(abs(gap_pct)) + short_vol)
    elif gap_pct < 0:
        long_spread = max(long_spread, to_number(abs(gap_pct)) + long_vol)

    baseline = min(
        max(
            to_number(abs(gap_pct)),
            to_number(last_oracle_conf_pct * 2),
            to_number(safe_div(max(mark_std, oracle_std) * PERCENTAGE_PRECISION, reserve_price)),
        ),
        float(BID_ASK_SPREAD_PRECISION),
    )
    max_target_spread = js_floor(max(float(max_spread), baseline))

    inventory = base_asset_amount_with_amm
    scale = calculate_inventory_scale(
        inventory,
        base_asset_reserve,
        min_base_asset_reserve,
        max_base_asset_reserve,
        long_spread if inventory > 0 else short_spread,
        max_target_spread,
    )
    if inventory > 0:
        long_spread *= scale
    elif inventory < 0:
        short_spread *= scale

    if total_fee_minus_distributions > 0:
        leverage = calculate_effective_leverage(
            quote_asset_reserve,
            terminal_quote_asset_reserve,
            peg_multiplier,
            inventory,
            reserve_price,
            total_fee_minus_distributions,
        )
        spread_scale = min(_MAX_SPREAD_SCALE, 1.0 + leverage)
        if inventory > 0:
            long_spread = js_floor(long_spread * spread_scale)
        else:
            short_spread = js_floor(short_spread * spread_scale)
    else:
        long_spread *= _MAX_SPREAD_SCALE
        short_spread *= _MAX_SPREAD_SCALE

    retreat_floor = DEFAULT_REVENUE_SINCE_LAST_FUNDING_SPREAD_RETREAT
    if net_revenue_since_last_funding < retreat_floor:
        max_retreat = max_target_spread / 10.0
        retreat = max_retreat
        if net_revenue_since_last_funding >= retreat_floor * 1000:
            retreat = min(
                max_retreat,
                js_floor(
                    (float(base_spread) * to_number(abs(net_revenue_since_last_funding)))
                    / to_number(abs(retreat_floor))
                ),
            )
        half_retreat = js_floor(retreat / 2.0)
        if inventory > 0:
            long_spread += retreat
            short_spread += half_retreat
        elif inventory < 0:
            long_spread += half_retreat
            short_spread += retreat
        else:
            long_spread += half_retreat
            short_spread += half_retreat

    adjustment = amm_inventory_spread_adjustment
    if adjustment < 0:
        shrink = float(abs(adjustment))
        shrunk_long = max(1.0, long_spread - js_floor((long_spread * shrink) / 100.0))
        shrunk_short = max(1.0, short_spread - js_floor((short_spread * shrink) / 100.0))
        long_spread = max(long_vol, shrunk_long)
        short_spread = max(short_vol, shrunk_short)
    elif adjustment > 0:
        grow = float(adjustment)
        grown_long = max(1.0, long_spread + js_ceil((long_spread * grow) / 100.0))
        grown_short = max(1.0, short_spread + js_ceil((short_spread * grow) / 100.0))
        long_spread = max(long_vol, grown_long)
        short_spread = max(short_vol, grown_short)

    total = long_spread + short_spread
    if total > max_target_spread:
        if long_spread > short_spread:
            long_spread = js_ceil((long_spread * max_target_spread) / total)
            short_spread = js_floor(max_target_spread - long_spread)
        else:
            short_spread = js_ceil((short_spread * max_target_spread) / total)
            long_spread = js_floor(max_target_spread - short_spread)
    return long_spread, short_spread


def calculate_spread(
    amm: Amm, oracle: PriceReading, now: int, reserve_price: int
) -> tuple[float, float]:
    """(long, short) spreads of the AMM quoted against `oracle` at `now`.

    The SDK reads `now` from the wall clock here (`new Date()`); we pass the same `now`
    the funding estimate uses, and the golden vectors pin the SDK's clock to it.
    """
    if amm.base_spread == 0 or amm.curve_update_intensity == 0:
        half = float(amm.base_spread) / 2.0
        return half, half
    target_mark_spread_pct = safe_div(
        (reserve_price - oracle.price) * BID_ASK_SPREAD_PRECISION, reserve_price
    )
    live_oracle_std = calculate_live_oracle_std(amm, oracle, now)
    conf_interval_pct = get_new_oracle_conf_pct(amm, oracle, reserve_price, now)
    long_spread, short_spread = calculate_spread_bn(
        amm.base_spread,
        target_mark_spread_pct,
        conf_interval_pct,
        amm.max_spread,
        amm.quote_asset_reserve,
        amm.terminal_quote_asset_reserve,
        amm.peg_multiplier,
        amm.base_asset_amount_with_amm,
        reserve_price,
        amm.total_fee_minus_distributions,
        amm.net_revenue_since_last_funding,
        amm.base_asset_reserve,
        amm.min_base_asset_reserve,
        amm.max_base_asset_reserve,
        amm.mark_std,
        live_oracle_std,
        amm.long_intensity_volume,
        amm.short_intensity_volume,
        amm.volume24h,
        amm.amm_inventory_spread_adjustment,
    )
    adjust = float(amm.amm_spread_adjustment)
    if adjust > 0:
        long_spread = max(long_spread + (long_spread * adjust) / 100.0, 1.0)
        short_spread = max(short_spread + (short_spread * adjust) / 100.0, 1.0)
    elif adjust < 0:
        long_spread = max(long_spread - (long_spread * -adjust) / 100.0, 1.0)
        short_spread = max(short_spread - (short_spread * -adjust) / 100.0, 1.0)
    return long_spread, short_spread
