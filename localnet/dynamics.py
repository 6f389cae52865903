"""How a market's accounts change as it trades: the steps the simulation draws from.

Each function reads the current anchorpy account and returns the fields to set (a
dict for `DriftMarkets.update_perp` / `update_spot`), so one step is one account
write. Randomness comes in through the caller's `random.Random`.
"""

from __future__ import annotations

import math
import random
from typing import Any

from driftpy.math.spot_balance import calculate_borrow_rate, calculate_deposit_rate
from driftpy.math.spot_market import get_token_amount
from driftpy.types import SpotBalanceType

from localnet.amm import peg_for_price, trunc_div, twap_update
from localnet.perps import net_revenue
from localnet.spots import scaled_balance
from localnet.variants import tier_name

__all__ = ["AMM_EVENTS", "accrue_spot", "amm_event", "funding_update", "mark_twaps", "oracle_twaps"]

AMM_EVENTS = ("fill", "mark_twap", "oracle_twap")  # what updates an AMM between fundings
_FIVE_MINUTES = 300
_ONE_YEAR = 31_536_000
_RATE = 10**6  # SPOT_RATE / PERCENTAGE precision
_FUNDING_BUFFER = 1_000  # FUNDING_RATE_PRECISION 1e9 / PRICE_PRECISION 1e6
_OFFSET_DENOMINATOR = 5_000  # FUNDING_RATE_OFFSET_DENOMINATOR


def mark_twaps(amm: Any, mark: int, now: int) -> dict[str, int]:
    """Mark, bid and ask TWAPs moved to `now` with a mark price (1e6)."""
    half = max(math.ceil(mark * max(amm.base_spread, 2) / 2e6), 1)
    last, period = amm.last_mark_price_twap_ts, amm.funding_period
    return {
        "last_mark_price_twap": twap_update(amm.last_mark_price_twap, mark, last, now, period),
        "last_mark_price_twap5min": twap_update(
            amm.last_mark_price_twap5min, mark, last, now, _FIVE_MINUTES
        ),
        "last_bid_price_twap": twap_update(
            amm.last_bid_price_twap, max(mark - half, 1), last, now, period
        ),
        "last_ask_price_twap": twap_update(amm.last_ask_price_twap, mark + half, last, now, period),
        "last_mark_price_twap_ts": now,
    }


def oracle_twaps(amm: Any, oracle: int, now: int) -> dict[str, int]:
    """The oracle TWAPs (1 h and 5 min) moved to `now` with the oracle price."""
    h = amm.historical_oracle_data
    last = h.last_oracle_price_twap_ts
    return {
        "last_oracle_price_twap": twap_update(
            h.last_oracle_price_twap, oracle, last, now, amm.funding_period
        ),
        "last_oracle_price_twap5min": twap_update(
            h.last_oracle_price_twap5min, oracle, last, now, _FIVE_MINUTES
        ),
        "last_oracle_price_twap_ts": now,
    }


def _open_interest(amm: Any, rng: random.Random, style: str) -> dict[str, int]:
    """Users trade a little: open interest drifts and the AMM takes the net change."""
    long, short = amm.base_asset_amount_long, amm.base_asset_amount_short
    if style == "empty":
        return {}
    step = max(amm.order_step_size, 1)
    new_long = max(round(long * (1 + rng.gauss(0, 0.002)) / step), 1) * step
    new_short = (
        -new_long
        if style == "balanced"
        else -max(round(-short * (1 + rng.gauss(0, 0.002)) / step), 1) * step
    )
    closed = amm.base_asset_reserve + long + short  # the base reserve with no position
    base = closed - (new_long + new_short)
    if not amm.min_base_asset_reserve < base < amm.max_base_asset_reserve:
        return {}  # the AMM has no room for that: nobody trades this step
    return {
        "base_asset_amount_long": new_long,
        "base_asset_amount_short": new_short,
        "base_asset_reserve": base,
        "quote_asset_reserve": amm.sqrt_k * amm.sqrt_k // base,
    }


def amm_event(
    kind: str,
    amm: Any,
    oracle: int,
    *,
    mark_premium: float,
    amm_premium: float,
    oi_style: str,
    now: int,
    rng: random.Random,
) -> dict[str, int]:
    """The fields one AMM event sets.

    `fill`: users trade (open interest drifts, the AMM repegs to the oracle, both TWAPs
    update, so their timestamps match); `mark_twap`: a keeper cranks the bid/ask TWAPs
    only (the mark TWAP becomes the newer); `oracle_twap`: a keeper's AMM update
    repegs and moves the oracle TWAPs only (the oracle TWAP becomes the newer).
    """
    mark = max(round(oracle * (1 + mark_premium)), 1)
    if kind == "mark_twap":
        return mark_twaps(amm, mark, now)
    fields: dict[str, int] = {}
    if kind == "fill":
        fields.update(_open_interest(amm, rng, oi_style))
        fields.update(mark_twaps(amm, mark, now))
        fields["last_trade_ts"] = now
    base = fields.get("base_asset_reserve", amm.base_asset_reserve)
    quote = fields.get("quote_asset_reserve", amm.quote_asset_reserve)
    target = max(round(oracle * (1 + amm_premium)), 1)
    fields["peg_multiplier"] = peg_for_price(target, base, quote)
    fields.update(oracle_twaps(amm, oracle, now))
    return fields


def _max_divergence(tier: str, twap: int) -> int:
    if tier in ("A", "B"):
        return twap // 33
    return twap // 20 if tier == "C" else twap // 10


def funding_update(
    account: Any, oracle: int, mark: int, now: int, rng: random.Random
) -> dict[str, int]:
    """A funding update as the program settles it: TWAPs moved to now, the rate from
    mark TWAP minus oracle TWAP (plus Drift's small offset, clamped by contract tier)."""
    amm = account.amm
    fields: dict[str, int] = {**mark_twaps(amm, mark, now), **oracle_twaps(amm, oracle, now)}
    mark_twap, oracle_twap = fields["last_mark_price_twap"], fields["last_oracle_price_twap"]
    limit = _max_divergence(tier_name(account.contract_tier), oracle_twap)
    spread = mark_twap - oracle_twap + oracle_twap // _OFFSET_DENOMINATOR
    spread = min(max(spread, -limit), limit)
    rate = trunc_div(spread * _FUNDING_BUFFER * amm.funding_period, 24 * 3600)
    fields.update(
        last_funding_rate=rate,
        last_funding_rate_long=rate,
        last_funding_rate_short=rate,
        last24h_avg_funding_rate=trunc_div(23 * amm.last24h_avg_funding_rate + rate, 24),
        last_funding_rate_ts=now,
        last_funding_oracle_twap=oracle_twap,
        cumulative_funding_rate_long=amm.cumulative_funding_rate_long + rate,
        cumulative_funding_rate_short=amm.cumulative_funding_rate_short + rate,
        net_revenue_since_last_funding=net_revenue(rng.random(), rng.random()),
    )
    return fields


def accrue_spot(m: Any, now: int, rng: random.Random) -> dict[str, int]:
    """Interest accrued since `last_interest_ts` at the market's current rates, and
    balances drifting a little (a market with no borrows keeps none)."""
    fields: dict[str, int] = {"last_interest_ts": now}
    elapsed = max(now - m.last_interest_ts, 0)
    borrow_rate, deposit_rate = calculate_borrow_rate(m), calculate_deposit_rate(m)
    if elapsed and m.borrow_balance:
        grown = m.cumulative_borrow_interest * borrow_rate * elapsed // (_ONE_YEAR * _RATE) + 1
        fields["cumulative_borrow_interest"] = m.cumulative_borrow_interest + grown
    if elapsed:
        earned = m.cumulative_deposit_interest * deposit_rate * elapsed // (_ONE_YEAR * _RATE)
        fields["cumulative_deposit_interest"] = m.cumulative_deposit_interest + earned
    if m.deposit_balance:
        fields["deposit_balance"] = max(round(m.deposit_balance * (1 + rng.gauss(0, 0.002))), 1)
    if m.borrow_balance:
        deposits = get_token_amount(
            fields.get("deposit_balance", m.deposit_balance), m, SpotBalanceType.Deposit()
        )
        borrows = get_token_amount(m.borrow_balance, m, SpotBalanceType.Borrow())
        borrows = min(round(borrows * (1 + rng.gauss(0, 0.003))), deposits * 999 // 1000)
        cumulative = fields.get("cumulative_borrow_interest", m.cumulative_borrow_interest)
        fields["borrow_balance"] = max(scaled_balance(borrows, m.decimals, cumulative), 1)
    return fields
