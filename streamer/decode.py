"""Decoded market accounts -> market states.

`market_state` and `spot_state` take the accounts `streamer.account_decode` decodes
(or `streamer.decoders` converts from driftpy's objects): the math's values and what
the published state adds. Everything derived from them is computed by `streamer.math`,
as Drift's SDK computes it; the State's oracle guard rails come from driftpy's decoded
State (`guard_rails_of`). A derived value the math cannot produce (the SDK would throw:
zero reserves, a division by zero) comes out None, never an exception.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from streamer.account_decode import PerpAccount, SpotAccount
from streamer.math.amm import calculate_bid_ask_price
from streamer.math.funding import (
    calculate_long_short_funding_rate_and_live_twaps,
    next_funding_wait,
)
from streamer.math.oracle import get_mm_oracle_price_data
from streamer.math.safe_math import MathError, safe_div
from streamer.math.spot import (
    calculate_borrow_rate,
    calculate_deposit_rate,
    calculate_utilization,
    get_token_amount,
)
from streamer.math.types import Amm, OracleGuardRails, OraclePriceData, PerpMarket
from streamer.state import MarketState, SpotState

__all__ = [
    "OracleReading",
    "guard_rails_of",
    "market_state",
    "spot_state",
    "variant",
]

log = logging.getLogger("drift_stream.decode")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class OracleReading:
    """An oracle account read for one market's source, and the slot of that version."""

    data: OraclePriceData
    slot: int


def variant(value: object) -> str:
    """An anchorpy enum value's variant name: `OracleSource.PythLazer1M()` -> `PythLazer1M`."""
    return type(value).__name__


def _snake(name: str) -> str:
    """`FundingPaused` -> `funding_paused` (the wire's spelling of a variant)."""
    return _CAMEL.sub("_", name).lower()


def guard_rails_of(state: Any) -> OracleGuardRails:
    """The oracle guard rails of a decoded State (all zero when there is no State)."""
    if state is None:
        return OracleGuardRails()
    rails = state.oracle_guard_rails
    return OracleGuardRails(
        mark_oracle_percent_divergence=int(rails.price_divergence.mark_oracle_percent_divergence),
        oracle_twap5min_percent_divergence=int(
            rails.price_divergence.oracle_twap5min_percent_divergence
        ),
        slots_before_stale_for_amm=int(rails.validity.slots_before_stale_for_amm),
        slots_before_stale_for_margin=int(rails.validity.slots_before_stale_for_margin),
        confidence_interval_max_size=int(rails.validity.confidence_interval_max_size),
        too_volatile_ratio=int(rails.validity.too_volatile_ratio),
    )


def _symbol(name: bytes) -> str:
    return name.decode("utf-8").strip()  # as driftpy's decode_name


@dataclass(frozen=True, slots=True)
class _Derived:
    bid: int | None = None
    ask: int | None = None
    mark: int | None = None
    mm_used: bool = False
    long: int | None = None
    short: int | None = None
    mark_twap: int | None = None
    oracle_twap: int | None = None


def _derive(
    market: PerpMarket, oracle: OraclePriceData, guard_rails: OracleGuardRails, now: int
) -> _Derived:
    """Bid, ask, mark and the live funding estimate, as the SDK computes them."""
    try:
        mm = get_mm_oracle_price_data(market, oracle, guard_rails)
        bid, ask = calculate_bid_ask_price(market.amm, mm, now)
    except MathError as exc:
        log.debug("prices of market %d unavailable: %s", market.market_index, exc)
        return _Derived()
    mark = safe_div(bid + ask, 2)
    try:
        # The SDK's estimate with no mark price given uses this same bid/ask mid.
        mark_twap, oracle_twap, long, short = calculate_long_short_funding_rate_and_live_twaps(
            market, mm, oracle, now, mark_price=mark
        )
    except MathError as exc:
        log.debug("funding estimate of market %d unavailable: %s", market.market_index, exc)
        return _Derived(bid, ask, mark, mm.mm_oracle_used)
    return _Derived(bid, ask, mark, mm.mm_oracle_used, long, short, mark_twap, oracle_twap)


def _next_funding_ts(amm: Amm) -> int | None:
    try:
        return amm.last_funding_rate_ts + next_funding_wait(
            amm.last_funding_rate_ts, amm.funding_period
        )
    except MathError:
        return None


def market_state(
    account: PerpAccount,
    market_slot: int,
    oracle: OracleReading | None,
    guard_rails: OracleGuardRails,
    now: int,
) -> MarketState:
    """Everything the streamer publishes of one decoded perp market, at unix time `now`."""
    market = account.market
    amm = market.amm
    derived = _Derived() if oracle is None else _derive(market, oracle.data, guard_rails, now)
    return MarketState(
        market_index=market.market_index,
        symbol=_symbol(account.name).upper(),
        status=_snake(market.status),
        contract_type=_snake(market.contract_type),
        oracle=account.oracle,
        oracle_source=amm.oracle_source,
        oracle_price=None if oracle is None else oracle.data.price,
        oracle_slot=None if oracle is None else oracle.slot,
        last_funding_rate=account.last_funding_rate,
        last_funding_rate_long=account.last_funding_rate_long,
        last_funding_rate_short=account.last_funding_rate_short,
        last24h_avg_funding_rate=amm.last24h_avg_funding_rate,
        last_funding_rate_ts=amm.last_funding_rate_ts,
        last_funding_oracle_twap=account.last_funding_oracle_twap,
        last_oracle_price_twap=amm.historical_oracle_data.last_oracle_price_twap,
        funding_period=amm.funding_period,
        base_asset_amount_long=amm.base_asset_amount_long,
        base_asset_amount_short=amm.base_asset_amount_short,
        bid_price=derived.bid,
        ask_price=derived.ask,
        mark_price=derived.mark,
        predicted_long=derived.long,
        predicted_short=derived.short,
        market_slot=market_slot,
        predicted_at=None if derived.long is None else now,
        priced_at=None if derived.bid is None else now,
        mark_twap_live=derived.mark_twap,
        oracle_twap_live=derived.oracle_twap,
        next_funding_ts=_next_funding_ts(amm),
        mm_oracle_price=amm.mm_oracle_price if amm.mm_oracle_slot != 0 else None,
        mm_oracle_used=derived.mm_used,
    )


def spot_state(account: SpotAccount, market_slot: int, oracle: OracleReading | None) -> SpotState:
    """Everything the streamer publishes of one decoded spot market."""
    spot = account.market
    try:
        utilization: int | None = calculate_utilization(spot)
        borrow_rate: int | None = calculate_borrow_rate(spot, utilization=utilization)
        deposit_rate: int | None = calculate_deposit_rate(spot, utilization=utilization)
    except MathError as exc:
        log.debug("rates of spot market %d unavailable: %s", spot.market_index, exc)
        utilization = borrow_rate = deposit_rate = None
    return SpotState(
        market_index=spot.market_index,
        symbol=_symbol(account.name),
        status=_snake(spot.status),
        decimals=spot.decimals,
        oracle=account.oracle,
        oracle_source=spot.oracle_source,
        oracle_price=None if oracle is None else oracle.data.price,
        oracle_slot=None if oracle is None else oracle.slot,
        market_slot=market_slot,
        deposit_rate=deposit_rate,
        borrow_rate=borrow_rate,
        utilization=utilization,
        total_deposits=get_token_amount(spot.deposit_balance, spot, borrow=False),
        total_borrows=get_token_amount(spot.borrow_balance, spot, borrow=True),
    )
