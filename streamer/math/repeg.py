"""The AMM as the SDK prices it before quoting: repeg toward the oracle within budget.

Mirrors the SDK's `calculateUpdatedAMM` and its helpers (`math/amm.ts`, `math/repeg.ts`),
which follow the program's `math/repeg.rs`: move the peg toward the (MM) oracle price,
paid from the fee pool above half the exchange fees; if the budget falls short, shrink k
by 0.1 % and spend what that frees.
"""

from __future__ import annotations

from streamer.math.constants import (
    AMM_RESERVE_PRECISION,
    AMM_TO_QUOTE_PRECISION_RATIO,
    BID_ASK_SPREAD_PRECISION,
    PEG_PRECISION,
    PERCENTAGE_PRECISION,
    PRICE_DIV_PEG,
    PRICE_PRECISION,
)
from streamer.math.safe_math import MathError, safe_div
from streamer.math.types import Amm, PriceReading, amm_with

__all__ = [
    "calculate_adjust_k_cost",
    "calculate_amm_reserves_after_swap",
    "calculate_budgeted_peg",
    "calculate_new_amm",
    "calculate_optimal_peg_and_budget",
    "calculate_peg_from_target_price",
    "calculate_price",
    "calculate_repeg_cost",
    "calculate_updated_amm",
]


def calculate_price(base_asset_reserve: int, quote_asset_reserve: int, peg_multiplier: int) -> int:
    """The AMM price of reserves at a peg (PRICE_PRECISION); 0 when there is no base."""
    if abs(base_asset_reserve) <= 0:
        return 0
    return safe_div(
        safe_div(quote_asset_reserve * PRICE_PRECISION * peg_multiplier, PEG_PRECISION),
        base_asset_reserve,
    )


def calculate_amm_reserves_after_swap(amm: Amm, base_amount: int, add: bool) -> tuple[int, int]:
    """(quote, base) reserves after adding (`add`) or removing `base_amount` of base."""
    if base_amount < 0:
        raise MathError("assert", "swapAmount must be greater than 0")
    new_base = amm.base_asset_reserve + base_amount if add else amm.base_asset_reserve - base_amount
    return safe_div(amm.sqrt_k * amm.sqrt_k, new_base), new_base


def _terminal_quote_asset_reserve(amm: Amm, base_asset_amount_with_amm: int) -> int:
    """The quote reserve once the AMM's position is closed (short it if long, and back)."""
    quote, _ = calculate_amm_reserves_after_swap(
        amm, abs(base_asset_amount_with_amm), add=base_asset_amount_with_amm > 0
    )
    return quote


def calculate_peg_from_target_price(
    target_price: int, base_asset_reserve: int, quote_asset_reserve: int
) -> int:
    """The peg at which the reserves price at `target_price` (at least 1)."""
    peg = safe_div(
        safe_div(target_price * base_asset_reserve, quote_asset_reserve)
        + safe_div(PRICE_DIV_PEG, 2),
        PRICE_DIV_PEG,
    )
    return max(peg, 1)


def calculate_repeg_cost(amm: Amm, new_peg: int) -> int:
    """What moving the peg to `new_peg` costs the protocol (QUOTE_PRECISION)."""
    dqar = amm.quote_asset_reserve - amm.terminal_quote_asset_reserve
    return safe_div(
        safe_div(dqar * (new_peg - amm.peg_multiplier), AMM_TO_QUOTE_PRECISION_RATIO),
        PEG_PRECISION,
    )


def calculate_adjust_k_cost(amm: Amm, numerator: int, denominator: int) -> int:
    """What scaling k by numerator/denominator costs (negative: it frees budget)."""
    x, y = amm.base_asset_reserve, amm.quote_asset_reserve
    d, q = amm.base_asset_amount_with_amm, amm.peg_multiplier
    quote_scale = y * d * q
    p = safe_div(numerator * PRICE_PRECISION, denominator)
    pp2 = PERCENTAGE_PRECISION * PERCENTAGE_PRECISION
    cost = safe_div(quote_scale * pp2, x + d) - safe_div(
        safe_div(quote_scale * p * pp2, PRICE_PRECISION), safe_div(x * p, PRICE_PRECISION) + d
    )
    cost = safe_div(safe_div(safe_div(cost, pp2), AMM_TO_QUOTE_PRECISION_RATIO), PEG_PRECISION)
    return -cost


def calculate_budgeted_peg(amm: Amm, budget: int, target_price: int) -> int:
    """The peg `budget` can buy toward `target_price` (the target itself when free)."""
    per_peg_cost = safe_div(
        amm.quote_asset_reserve - amm.terminal_quote_asset_reserve,
        safe_div(AMM_RESERVE_PRECISION, PRICE_PRECISION),
    )
    if per_peg_cost > 0:
        per_peg_cost += 1
    elif per_peg_cost < 0:
        per_peg_cost -= 1
    target_peg = safe_div(
        safe_div(target_price * amm.base_asset_reserve, amm.quote_asset_reserve), PRICE_DIV_PEG
    )
    direction = target_peg - amm.peg_multiplier
    use_target = (per_peg_cost < 0 < direction) or (per_peg_cost > 0 > direction)
    if per_peg_cost == 0 or use_target:
        return target_peg
    delta = safe_div(budget * PEG_PRECISION, per_peg_cost)
    return max(1, amm.peg_multiplier + delta)


def calculate_optimal_peg_and_budget(amm: Amm, oracle: PriceReading) -> tuple[int, int, int, bool]:
    """(target price, peg, budget, check lower bound) of the repeg toward `oracle`."""
    reserve_price_before = calculate_price(
        amm.base_asset_reserve, amm.quote_asset_reserve, amm.peg_multiplier
    )
    target_price = oracle.price
    new_peg = calculate_peg_from_target_price(
        target_price, amm.base_asset_reserve, amm.quote_asset_reserve
    )
    pre_peg_cost = calculate_repeg_cost(amm, new_peg)
    total_fee_lb = safe_div(amm.total_exchange_fee, 2)
    budget = max(0, amm.total_fee_minus_distributions - total_fee_lb)
    check_lower_bound = True
    if budget < pre_peg_cost:
        half_max_price_spread = safe_div(
            safe_div(amm.max_spread, 2) * target_price, BID_ASK_SPREAD_PRECISION
        )
        gap = reserve_price_before - target_price
        if abs(gap) > half_max_price_spread:
            mark_adj = abs(gap) - half_max_price_spread
            new_target = (
                reserve_price_before + mark_adj if gap < 0 else reserve_price_before - mark_adj
            )
            optimal_peg = calculate_peg_from_target_price(
                new_target, amm.base_asset_reserve, amm.quote_asset_reserve
            )
            return new_target, optimal_peg, calculate_repeg_cost(amm, optimal_peg), False
        if amm.total_fee_minus_distributions < safe_div(amm.total_exchange_fee, 2):
            check_lower_bound = False
    return target_price, new_peg, budget, check_lower_bound


def _scaled_reserves(amm: Amm, numerator: int, denominator: int) -> dict[str, int]:
    """Base reserve and sqrt k scaled, the quote reserve kept on the curve."""
    base = safe_div(amm.base_asset_reserve * numerator, denominator)
    sqrt_k = safe_div(amm.sqrt_k * numerator, denominator)
    quote = safe_div(sqrt_k * sqrt_k, base)
    return {"base_asset_reserve": base, "sqrt_k": sqrt_k, "quote_asset_reserve": quote}


def _scaled_k(amm: Amm, numerator: int, denominator: int) -> Amm:
    """The AMM with base reserve and sqrt k scaled, quote reserve kept on the curve."""
    return amm_with(amm, **_scaled_reserves(amm, numerator, denominator))


def calculate_new_amm(amm: Amm, oracle: PriceReading) -> tuple[int, int, int, int]:
    """(repeg cost, k numerator, k denominator, new peg) of the repeg toward `oracle`."""
    target_price, new_peg, budget, _ = calculate_optimal_peg_and_budget(amm, oracle)
    pre_peg_cost = calculate_repeg_cost(amm, new_peg)
    numerator = denominator = 1
    if pre_peg_cost >= budget and pre_peg_cost > 0:
        numerator, denominator = 999, 1000
        deficit_madeup = calculate_adjust_k_cost(amm, numerator, denominator)
        if not deficit_madeup <= 0:
            raise MathError("assert", "Unspecified AssertionError")
        pre_peg_cost = budget + abs(deficit_madeup)
        scaled = _scaled_k(amm, numerator, denominator)
        scaled = amm_with(
            scaled,
            terminal_quote_asset_reserve=_terminal_quote_asset_reserve(
                scaled, amm.base_asset_amount_with_amm
            ),
        )
        new_peg = calculate_budgeted_peg(scaled, pre_peg_cost, target_price)
        pre_peg_cost = calculate_repeg_cost(scaled, new_peg)
    return pre_peg_cost, numerator, denominator, new_peg


def calculate_updated_amm(amm: Amm, oracle: PriceReading | None) -> Amm:
    """The AMM after the repeg the program would make before a fill (unchanged when
    `curve_update_intensity` is 0 or there is no oracle)."""
    if amm.curve_update_intensity == 0 or oracle is None:
        return amm
    cost, numerator, denominator, new_peg = calculate_new_amm(amm, oracle)
    updated = amm_with(amm, **_scaled_reserves(amm, numerator, denominator), peg_multiplier=new_peg)
    return amm_with(
        updated,
        terminal_quote_asset_reserve=_terminal_quote_asset_reserve(
            updated, amm.base_asset_amount_with_amm
        ),
        total_fee_minus_distributions=amm.total_fee_minus_distributions - cost,
        net_revenue_since_last_funding=amm.net_revenue_since_last_funding - cost,
    )
