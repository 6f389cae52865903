"""Oracle math: live TWAPs and deviation, confidence, divergence, and the MM oracle choice.

Mirrors the SDK's `math/oracles.ts` (`calculateLiveOracleTwap`, `calculateLiveOracleStd`,
`getNewOracleConfPct`, `isOracleTooDivergent`) and `DriftClient.getMMOracleDataForPerpMarket`,
which the program's `get_mm_oracle_price_data` rules stand behind. Integers in and out.
"""

from __future__ import annotations

from streamer.math.constants import BID_ASK_SPREAD_PRECISION, FIVE_MINUTE, PERCENTAGE_PRECISION
from streamer.math.safe_math import bn_str_le, bn_str_lt, safe_div
from streamer.math.types import (
    Amm,
    HistoricalOracleData,
    MMOraclePriceData,
    OracleGuardRails,
    OraclePriceData,
    PerpMarket,
    PriceReading,
)

__all__ = [
    "calculate_live_oracle_std",
    "calculate_live_oracle_twap",
    "get_mm_oracle_price_data",
    "get_new_oracle_conf_pct",
    "is_oracle_too_divergent",
    "oracle_confidence_from_mm_oracle",
]


def calculate_live_oracle_twap(
    hist: HistoricalOracleData, oracle: PriceReading, now: int, period: int
) -> int:
    """The oracle TWAP brought up to `now` with the current price (clamped to +-1/3 of
    the stored TWAP); the 5-minute TWAP when `period` is 300 s, else the funding one."""
    twap = hist.last_oracle_price_twap5min if period == FIVE_MINUTE else hist.last_oracle_price_twap
    since_last_update = max(1, now - hist.last_oracle_price_twap_ts)
    since_start = max(0, period - since_last_update)
    clamp_range = safe_div(twap, 3)
    clamped_price = min(twap + clamp_range, max(oracle.price, twap - clamp_range))
    return safe_div(
        twap * since_start + clamped_price * since_last_update, since_start + since_last_update
    )


def calculate_live_oracle_std(amm: Amm, oracle: PriceReading, now: int) -> int:
    """The oracle's deviation from its live TWAPs plus the decayed stored `oracle_std`."""
    hist = amm.historical_oracle_data
    since_last_update = max(1, now - hist.last_oracle_price_twap_ts)
    since_start = max(0, amm.funding_period - since_last_update)
    live_twap = calculate_live_oracle_twap(hist, oracle, now, amm.funding_period)
    live_twap_5min = calculate_live_oracle_twap(hist, oracle, now, FIVE_MINUTE)
    price_delta = max(abs(oracle.price - live_twap), abs(oracle.price - live_twap_5min))
    return price_delta + safe_div(amm.oracle_std * since_start, since_start + since_last_update)


def get_new_oracle_conf_pct(amm: Amm, oracle: PriceReading, reserve_price: int, now: int) -> int:
    """The oracle confidence as a fraction of the reserve price (1e6), at least the
    stored `last_oracle_conf_pct` decayed by the seconds since the last oracle TWAP."""
    since_last_update = max(0, now - amm.historical_oracle_data.last_oracle_price_twap_ts)
    lower_bound = amm.last_oracle_conf_pct
    if since_last_update > 0:
        divisor = max(21 - since_last_update, 5)
        lower_bound = amm.last_oracle_conf_pct - safe_div(amm.last_oracle_conf_pct, divisor)
    conf_pct = safe_div(oracle.confidence * BID_ASK_SPREAD_PRECISION, reserve_price)
    return max(conf_pct, lower_bound)


def is_oracle_too_divergent(amm: Amm, oracle: PriceReading, guard_rails: OracleGuardRails) -> bool:
    """True when the price is at least the guard rail (floor 50 %) away from the
    5-minute oracle TWAP."""
    twap_5min = amm.historical_oracle_data.last_oracle_price_twap5min
    spread_pct = safe_div((oracle.price - twap_5min) * PERCENTAGE_PRECISION, twap_5min)
    max_divergence = max(
        guard_rails.oracle_twap5min_percent_divergence, safe_div(PERCENTAGE_PRECISION, 2)
    )
    return abs(spread_pct) >= max_divergence


def oracle_confidence_from_mm_oracle(mm_oracle_price: int, oracle: OraclePriceData) -> int:
    """The SDK's `getOracleConfidenceFromMMOracleData`: the oracle's confidence widened by
    the MM oracle's distance from it."""
    return oracle.confidence + abs(mm_oracle_price - oracle.price)


def get_mm_oracle_price_data(
    market: PerpMarket, oracle: OraclePriceData, guard_rails: OracleGuardRails
) -> MMOraclePriceData:
    """The price the AMM is quoted against, as `DriftClient.getMMOracleDataForPerpMarket`.

    The MM oracle (`amm.mm_oracle_price/slot/sequence_id`) is used when it is set, more
    recent than the oracle, within 1 % of it and not too divergent from the 5-minute TWAP;
    recency is by sequence id when both have one and they are close, else by slot.
    Both comparisons are the SDK's JS `<=`/`<` on BNs (see `safe_math.bn_str_le`).
    """
    amm = market.amm
    is_active = amm.mm_oracle_slot != 0
    pct_diff = safe_div(
        abs(amm.mm_oracle_price - oracle.price) * PERCENTAGE_PRECISION, max(oracle.price, 1)
    )
    sequence_id = oracle.sequence_id
    do_slot_check = (
        sequence_id is None
        or sequence_id == 0
        or amm.mm_oracle_sequence_id == 0
        or abs(sequence_id - amm.mm_oracle_sequence_id) > safe_div(sequence_id, 10_000)
    )
    exchange_oracle_more_recent = True
    if (do_slot_check and bn_str_le(oracle.slot, amm.mm_oracle_slot)) or (
        not do_slot_check
        and sequence_id is not None
        and bn_str_lt(sequence_id, amm.mm_oracle_sequence_id)
    ):
        exchange_oracle_more_recent = False
    confidence = oracle_confidence_from_mm_oracle(amm.mm_oracle_price, oracle)
    mm_reading = OraclePriceData(
        price=amm.mm_oracle_price, slot=amm.mm_oracle_slot, confidence=confidence
    )
    if (
        is_oracle_too_divergent(amm, mm_reading, guard_rails)
        or amm.mm_oracle_price == 0
        or exchange_oracle_more_recent
        or pct_diff > safe_div(PERCENTAGE_PRECISION, 100)
    ):
        return MMOraclePriceData(
            price=oracle.price,
            slot=oracle.slot,
            confidence=oracle.confidence,
            has_sufficient_number_of_data_points=oracle.has_sufficient_number_of_data_points,
            is_mm_oracle_active=is_active,
            mm_oracle_used=False,
        )
    return MMOraclePriceData(
        price=amm.mm_oracle_price,
        slot=amm.mm_oracle_slot,
        confidence=confidence,
        has_sufficient_number_of_data_points=True,
        is_mm_oracle_active=is_active,
        mm_oracle_used=True,
    )
