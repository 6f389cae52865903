"""The constant-product AMM arithmetic localnet needs to keep a perp market consistent.

Integers in and out, as Drift's program stores them: reserves and base amounts in
AMM_RESERVE_PRECISION (1e9), prices and pegs in PRICE_PRECISION / PEG_PRECISION (1e6).
Divisions here only ever see non-negative operands except where `trunc_div` says so.
"""

from __future__ import annotations

import math

__all__ = [
    "AMM_RESERVE_PRECISION",
    "CONCENTRATION_PRECISION",
    "MAX_CONCENTRATION_COEFFICIENT",
    "PEG_PRECISION",
    "PRICE_PRECISION",
    "Reserves",
    "peg_for_price",
    "reserve_price",
    "reserves_for",
    "terminal_quote_reserve",
    "trunc_div",
    "twap_update",
]

AMM_RESERVE_PRECISION = 10**9
PRICE_PRECISION = PEG_PRECISION = 10**6
CONCENTRATION_PRECISION = 10**6
MAX_CONCENTRATION_COEFFICIENT = 1_414_200  # the program's limit (about sqrt 2)
_PRICE_DIV_PEG = PRICE_PRECISION // PEG_PRECISION


def trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero (Rust `/`, BN `.div`)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def reserve_price(base: int, quote: int, peg: int) -> int:
    """The AMM's reserve price (1e6), as the SDK's `calculatePrice`."""
    if base <= 0:
        return 0
    return quote * PRICE_PRECISION * peg // PEG_PRECISION // base


def peg_for_price(target: int, base: int, quote: int) -> int:
    """The peg that puts the reserve price at `target`, as `calculatePegFromTargetPrice`."""
    return max((target * base // quote + _PRICE_DIV_PEG // 2) // _PRICE_DIV_PEG, 1)


def terminal_quote_reserve(base: int, sqrt_k: int, base_asset_amount_with_amm: int) -> int:
    """The quote reserve once the AMM's position is closed (base + with_amm, same k)."""
    closed = base + base_asset_amount_with_amm
    if closed <= 0:
        raise ValueError("the AMM's position exceeds its base reserve")
    return sqrt_k * sqrt_k // closed


class Reserves:
    """Base and quote reserves, sqrt_k and the concentration bounds of one AMM."""

    __slots__ = ("base", "max_base", "min_base", "quote", "sqrt_k", "terminal_quote")

    def __init__(self, sqrt_k: int, base: int, concentration_coef: int, with_amm: int) -> None:
        self.sqrt_k = sqrt_k
        self.base = base
        self.quote = sqrt_k * sqrt_k // base
        self.min_base = sqrt_k * CONCENTRATION_PRECISION // concentration_coef
        self.max_base = sqrt_k * concentration_coef // CONCENTRATION_PRECISION
        self.terminal_quote = terminal_quote_reserve(base, sqrt_k, with_amm)


def reserves_for(
    base_asset_amount_with_amm: int, liquidity_use: float, concentration_coef: int, floor: int
) -> Reserves:
    """Reserves for an AMM holding the opposite of the users' net position.

    The terminal point (no position) is base == quote == sqrt_k; users net long by
    `with_amm` took that much base out of the pool. `liquidity_use` in (0, 1) is how
    much of the base reserve's room on that side (down to min or up to max base
    reserve) the position takes, which is the inventory ratio Drift's spread logic
    reads. `floor` is the smallest sqrt_k to use (a market with no position).
    """
    n = base_asset_amount_with_amm
    room = 1.0 - CONCENTRATION_PRECISION / concentration_coef  # sqrt_k - min_base, as a share
    sqrt_k = floor if n == 0 else max(floor, math.ceil(abs(n) / (liquidity_use * room)))
    return Reserves(sqrt_k, sqrt_k - n, concentration_coef, n)


def twap_update(last_twap: int, price: int, last_ts: int, now: int, period: int) -> int:
    """A time-weighted average moved to `now` with `price`, as the program weighs it:
    the old value keeps the part of `period` not yet elapsed since `last_ts`."""
    since = max(1, now - last_ts)
    keep = max(0, period - since)
    return trunc_div(last_twap * keep + price * since, keep + since)
