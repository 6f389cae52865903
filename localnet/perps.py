"""Perp market accounts shaped like mainnet's, each drawn from its symbol.

Every market gets its own contract tier and margin ratios, spread settings
(`curve_update_intensity` mostly 100-200, some 0, some exactly 200; base and max
spread, the i8 spread adjustments, reference price offsets), open interest with an
imbalance either way (a few balanced, a few empty), reserves consistent with it
(`sqrt_k^2 ~ base * quote`, the terminal quote reserve after closing the AMM's
position, min/max base reserves around the base reserve, peg near the price),
volatility and volume figures, fee pools, and mark TWAPs off the oracle TWAPs with
their own timestamps. `PerpProfile` keeps the few draws the simulation reuses.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from driftpy.addresses import get_perp_market_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.name import encode_name
from driftpy.types import ContractType, MarketStatus

from localnet import codec
from localnet.amm import (
    AMM_RESERVE_PRECISION,
    MAX_CONCENTRATION_COEFFICIENT,
    PRICE_PRECISION,
    peg_for_price,
    reserve_price,
    reserves_for,
    trunc_div,
)
from localnet.draws import Draws
from localnet.mm_oracle import MmProfile, mm_profile
from localnet.oracles import source_name
from localnet.presets import PerpSpec
from localnet.variants import CONTRACT_TIERS

__all__ = ["PerpProfile", "net_revenue", "new_perp_account", "perp_profile"]

# (margin_ratio_initial, margin_ratio_maintenance), MARGIN_PRECISION 1e4, per tier.
_MARGINS = {
    "A": (500, 250),
    "B": (1000, 500),
    "C": (1000, 600),
    "Speculative": (1000, 500),
    "HighlySpeculative": (2000, 1600),
    "Isolated": (2000, 1500),
}
_BASE_SPREAD = {  # BID_ASK_SPREAD_PRECISION 1e6
    "A": (100, 500),
    "B": (200, 1000),
    "C": (400, 2000),
    "Speculative": (1000, 3000),
    "HighlySpeculative": (1000, 3000),
    "Isolated": (1000, 3000),
}
_MAJORS = ("SOL-PERP", "BTC-PERP", "ETH-PERP")
_STEP = 10**6  # order_step_size: base amounts are multiples of it
_QUOTE = 10**6  # QUOTE_PRECISION


@dataclass(frozen=True, slots=True)
class PerpProfile:
    """The draws of one market that the simulation keeps moving around."""

    tier: str
    mm: MmProfile
    mark_premium: float  # mark TWAP over oracle TWAP, as a fraction (sign: premium/discount)
    amm_premium: float  # reserve price over the oracle price
    activity: float  # chance per price step that the market's AMM is updated
    oi_style: str  # "imbalanced", "balanced" or "empty"
    in_deficit: bool  # total_fee_minus_distributions < 0 (tier A and C markets only)


def perp_profile(spec: PerpSpec, mm_oracle_share: float) -> PerpProfile:
    d = Draws(spec.symbol)
    if spec.symbol in _MAJORS:
        tier = "A"
    elif spec.prediction:
        tier = d.choice("tier", ("Speculative", "HighlySpeculative", "Isolated"))
    else:
        tier = d.weighted(
            "tier",
            (
                ("A", 0.15),
                ("B", 0.25),
                ("C", 0.25),
                ("Speculative", 0.15),
                ("HighlySpeculative", 0.15),
                ("Isolated", 0.05),
            ),
        )
    lazer = source_name(spec.oracle_source).startswith("PythLazer")
    return PerpProfile(
        tier=tier,
        mm=mm_profile(spec.symbol, mm_oracle_share, sequence_unit_us=lazer),
        mark_premium=d.uniform("mark_premium", -0.004, 0.004),
        amm_premium=d.uniform("amm_premium", -0.0015, 0.0015),
        activity=d.uniform("activity", 0.1, 0.8),
        oi_style="imbalanced" if spec.symbol in _MAJORS else _oi_style(d),
        # Its spreads are scaled by 10: only where the max spread caps them to a few %.
        in_deficit=spec.symbol not in _MAJORS
        and tier in ("A", "C")
        and d.chance("fees_negative", 0.4),
    )


def _oi_style(d: Draws) -> str:
    return d.weighted("oi", (("imbalanced", 0.84), ("balanced", 0.08), ("empty", 0.08)))


def _open_interest(spec: PerpSpec, d: Draws, style: str) -> tuple[int, int, float]:
    """(base_asset_amount_long, _short, notional USD) for the market."""
    usd = spec.price / PRICE_PRECISION
    if spec.symbol in _MAJORS:
        notional = d.log_uniform("notional", 5e7, 3e8)
    elif spec.prediction:
        notional = d.log_uniform("notional", 2e3, 2e6)
    else:
        notional = d.log_uniform("notional", 1e4, 5e7)
    if style == "empty":
        return 0, 0, notional
    total = notional / usd * AMM_RESERVE_PRECISION
    share = 0.5 if style == "balanced" else d.uniform("long_share", 0.2, 0.8)
    long = max(round(total * share / 2 / _STEP), 1) * _STEP
    short = long if style == "balanced" else max(round(total * (1 - share) / 2 / _STEP), 1) * _STEP
    return long, -short, notional


def new_perp_account(spec: PerpSpec, profile: PerpProfile, *, ts: int | None = None) -> Any:
    """The anchorpy PerpMarket object for a market (MM oracle unset: it needs the oracle)."""
    now = int(time.time()) if ts is None else ts
    d = Draws(spec.symbol)
    price = spec.price
    m = codec.template("PerpMarket")
    m.pubkey = get_perp_market_public_key(DRIFT_PROGRAM_ID, spec.market_index)
    m.market_index = spec.market_index
    m.name = encode_name(spec.symbol)
    m.status = MarketStatus.Active()
    m.contract_type = ContractType.Prediction() if spec.prediction else ContractType.Perpetual()
    m.contract_tier = CONTRACT_TIERS[profile.tier]
    m.margin_ratio_initial, m.margin_ratio_maintenance = _MARGINS[profile.tier]
    m.number_of_users = d.integer("users", 50, 50_000)
    a = m.amm
    a.oracle = spec.oracle
    a.oracle_source = spec.oracle_source
    a.order_step_size, a.order_tick_size, a.min_order_size = _STEP, 100, _STEP
    long, short, notional = _open_interest(spec, d, profile.oi_style)
    m.number_of_users_with_base = 0 if long == 0 else d.integer("users_with_base", 2, 5_000)
    a.base_asset_amount_long, a.base_asset_amount_short = long, short
    a.base_asset_amount_with_amm = long + short
    _set_reserves(a, spec, d, profile, notional)
    _set_spreads(a, m.margin_ratio_initial - m.margin_ratio_maintenance, profile, d)
    _set_activity(a, d, profile, notional, price)
    _set_funding_and_twaps(a, spec, profile, d, now)
    return m


def _set_reserves(a: Any, spec: PerpSpec, d: Draws, profile: PerpProfile, notional: float) -> None:
    usd = spec.price / PRICE_PRECISION
    depth = d.uniform("depth", 0.5, 3.0) * notional / usd * AMM_RESERVE_PRECISION
    coef = min(round(d.uniform("concentration", 1.02, 1.4142) * 1e6), MAX_CONCENTRATION_COEFFICIENT)
    # Mostly a small share of the AMM's room; a few tier A markets are crowded, so their
    # spreads reach the max spread (Drift then scales both sides down to it).
    use = 0.001 + 0.05 * d.unit("liquidity_use") ** 3
    if profile.tier == "A" and d.chance("crowded", 0.4):
        use = 0.3 + 0.3 * d.unit("crowding")
    reserves = reserves_for(a.base_asset_amount_with_amm, use, coef, max(round(depth), 10**9))
    a.concentration_coef = coef
    a.sqrt_k = reserves.sqrt_k
    a.base_asset_reserve, a.quote_asset_reserve = reserves.base, reserves.quote
    a.terminal_quote_asset_reserve = reserves.terminal_quote
    a.min_base_asset_reserve, a.max_base_asset_reserve = reserves.min_base, reserves.max_base
    target = max(round(spec.price * (1.0 + profile.amm_premium)), 1)
    a.peg_multiplier = peg_for_price(target, reserves.base, reserves.quote)
    reserve = reserve_price(reserves.base, reserves.quote, a.peg_multiplier)
    a.last_oracle_normalised_price = spec.price
    a.last_oracle_reserve_price_spread_pct = trunc_div(
        (reserve - spec.price) * 10**6, max(reserve, 1)
    )


def _set_spreads(a: Any, margin_gap: int, profile: PerpProfile, d: Draws) -> None:
    low, high = _BASE_SPREAD[profile.tier]
    if profile.in_deficit:
        low, high = 100, 1_000  # Drift scales the spreads of a market in deficit by 10
    a.base_spread = d.integer("base_spread", low // 2, high // 2) * 2
    a.max_spread = margin_gap * (100 - 5)  # as the program sets it from the margin ratios
    a.long_spread = a.short_spread = a.base_spread // 2
    a.curve_update_intensity = d.weighted(
        "curve", ((0, 0.12), (200, 0.25), (100 + d.integer("curve_level", 0, 99), 0.63))
    )
    if d.chance("spread_adjustment", 0.5):
        a.amm_spread_adjustment = d.integer("spread_adjustment_value", -30, 30)
        if profile.in_deficit:  # never widen what the deficit already widened
            a.amm_spread_adjustment = -abs(a.amm_spread_adjustment)
    if d.chance("inventory_adjustment", 0.5):
        a.amm_inventory_spread_adjustment = d.integer("inventory_adjustment_value", -50, 50)
    intensity = a.curve_update_intensity
    if intensity > 100:
        if intensity == 200:
            max_offset = max(a.max_spread // 2, 10_000)
        else:
            max_offset = min(a.max_spread // 2, 100 * (intensity - 100))
        if d.chance("reference_offset", 0.4) and max_offset > 100:
            sign = d.choice("reference_offset_sign", (-1, 1))
            top = min(max_offset // 2, 2_000)
            a.reference_price_offset = sign * d.integer("reference_offset_value", 50, top)
        if d.chance("deadband", 0.3):
            a.reference_price_offset_deadband_pct = d.choice("deadband_value", (5, 10, 20, 25))


def _set_activity(a: Any, d: Draws, profile: PerpProfile, notional: float, price: int) -> None:
    """Volatility, confidence, volume and fee figures the spread logic reads."""
    a.mark_std = max(round(price * d.uniform("mark_std", 0.0002, 0.003)), 1)
    a.oracle_std = max(round(price * d.uniform("oracle_std", 0.0002, 0.003)), 1)
    a.last_oracle_conf_pct = d.integer("conf_pct", 20, 800)
    volume = max(round(notional * d.log_uniform("turnover", 0.05, 3.0) * _QUOTE), _QUOTE)
    a.volume24h = volume
    a.long_intensity_volume = round(volume * d.uniform("long_intensity", 0.005, 0.3))
    a.short_intensity_volume = round(volume * d.uniform("short_intensity", 0.005, 0.3))
    # The fee pool in proportion to open interest: it bounds the effective leverage
    # that scales spreads (a negative pool scales them by 10).
    if profile.in_deficit:
        loss = notional * d.log_uniform("fee_loss", 5e-4, 1e-2)
        a.total_fee_minus_distributions = -max(round(loss * _QUOTE), _QUOTE)
        a.total_exchange_fee = round(
            abs(a.total_fee_minus_distributions) * d.uniform("fee_x", 1, 5)
        )
    else:
        fees = max(round(notional * d.log_uniform("fee_share", 3e-3, 5e-2) * _QUOTE), _QUOTE)
        a.total_fee_minus_distributions = fees
        a.total_exchange_fee = round(fees * d.uniform("fee_x", 1.1, 3.0))
    a.total_fee = a.total_exchange_fee
    a.net_revenue_since_last_funding = net_revenue(d.unit("net_revenue"), d.unit("net_size"))


def net_revenue(kind: float, size: float) -> int:
    """Revenue since the last funding (QUOTE 1e6): mostly positive, some a little below
    zero, some past the -25 USD at which Drift widens spreads."""
    if kind < 0.6:
        return round(size * 5_000 * _QUOTE)
    if kind < 0.85:
        return -round(size * 25 * _QUOTE)
    return -round((25 + size * 5_000) * _QUOTE) - 1


def _set_funding_and_twaps(a: Any, spec: PerpSpec, profile: PerpProfile, d: Draws, ts: int) -> None:
    price = spec.price
    a.last_funding_rate = a.last_funding_rate_long = spec.last_funding_rate
    a.last_funding_rate_short = spec.last_funding_rate
    a.last24h_avg_funding_rate = round(spec.last_funding_rate * d.uniform("avg_24h", 0.3, 1.5))
    a.last_funding_rate_ts = ts - ts % 3600
    a.funding_period = 3600
    a.last_funding_oracle_twap = max(
        round(price * (1 + d.uniform("funding_twap", -0.004, 0.004))), 1
    )
    h = a.historical_oracle_data
    h.last_oracle_price = price
    h.last_oracle_conf = max(price // 10_000, 1)
    h.last_oracle_delay = d.integer("oracle_delay", 0, 3)
    h.last_oracle_price_twap = max(round(price * (1 + d.uniform("oracle_twap", -0.003, 0.003))), 1)
    h.last_oracle_price_twap5min = max(
        round(price * (1 + d.uniform("oracle_twap5", -0.001, 0.001))), 1
    )
    # Mark TWAP newer than the oracle TWAP on some markets, older on others, equal on a few:
    # the SDK's shrinkStaleTwaps branches on it.
    newest = ts - d.integer("twap_age", 0, 60)
    older = newest - d.integer("twap_gap", 1, 600)
    order = d.weighted("twap_order", (("mark", 0.4), ("oracle", 0.4), ("same", 0.2)))
    h.last_oracle_price_twap_ts = older if order == "mark" else newest
    a.last_mark_price_twap_ts = older if order == "oracle" else newest
    premium = profile.mark_premium
    a.last_mark_price_twap = max(round(h.last_oracle_price_twap * (1 + premium)), 1)
    five = premium * d.uniform("mark_twap5", 0.5, 1.5)
    a.last_mark_price_twap5min = max(round(h.last_oracle_price_twap5min * (1 + five)), 1)
    half = max(math.ceil(a.last_mark_price_twap * a.base_spread / 2e6), 1)
    a.last_bid_price_twap = max(a.last_mark_price_twap - half, 1)
    a.last_ask_price_twap = a.last_mark_price_twap + half
    a.last_trade_ts = a.last_mark_price_twap_ts
    a.last_oracle_valid = True
