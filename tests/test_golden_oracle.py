"""Golden vectors, oracle family: live oracle TWAPs and deviation, confidence,
divergence and the MM-oracle choice equal the official SDK's for any drawn market."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from streamer.math.constants import FIVE_MINUTE
from streamer.math.oracle import (
    calculate_live_oracle_std,
    calculate_live_oracle_twap,
    get_mm_oracle_price_data,
    get_new_oracle_conf_pct,
    is_oracle_too_divergent,
)
from streamer.math.repeg import calculate_price
from streamer.math.types import HistoricalOracleData, MMOraclePriceData, OracleGuardRails
from tests.drift_strategies import PerpCase, oracle_guard_rails, perp_cases
from tests.golden import Case, check
from tests.sdk_reference import Call, SdkReference, bn, mm_oracle_data, state

GOLDEN = settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def historical(hist: HistoricalOracleData) -> dict[str, Any]:
    """`HistoricalOracleData` as the plain object `calculateLiveOracleTwap` takes."""
    return {
        "lastOraclePrice": bn(hist.last_oracle_price),
        "lastOracleConf": bn(hist.last_oracle_conf),
        "lastOracleDelay": bn(hist.last_oracle_delay),
        "lastOraclePriceTwap": bn(hist.last_oracle_price_twap),
        "lastOraclePriceTwap5Min": bn(hist.last_oracle_price_twap5min),
        "lastOraclePriceTwapTs": bn(hist.last_oracle_price_twap_ts),
    }


def _mm_fields(mm: MMOraclePriceData) -> tuple[int, int, int, bool, bool, bool]:
    return (
        mm.price,
        mm.slot,
        mm.confidence,
        mm.has_sufficient_number_of_data_points,
        mm.is_mm_oracle_active,
        mm.mm_oracle_used,
    )


def oracle_cases(case: PerpCase, rails: OracleGuardRails) -> list[Case]:
    market, oracle, now = case.market, case.oracle, case.now
    amm = market.amm
    hist = amm.historical_oracle_data
    reserve_price = calculate_price(
        amm.base_asset_reserve, amm.quote_asset_reserve, amm.peg_multiplier
    )
    inputs = {"market": market, "oracle": oracle, "now": now, "rails": rails}
    return [
        Case(
            f"calculateLiveOracleTwap({period})",
            Call("calculateLiveOracleTwap", historical(hist), oracle, bn(now), bn(period)),
            lambda period=period: calculate_live_oracle_twap(hist, oracle, now, period),  # type: ignore[misc]
            inputs=inputs,
        )
        for period in (amm.funding_period, FIVE_MINUTE)
    ] + [
        Case(
            "calculateLiveOracleStd",
            Call("calculateLiveOracleStd", amm, oracle, bn(now)),
            lambda: calculate_live_oracle_std(amm, oracle, now),
            inputs=inputs,
        ),
        Case(
            "getNewOracleConfPct",
            Call("getNewOracleConfPct", amm, oracle, bn(reserve_price), bn(now)),
            lambda: get_new_oracle_conf_pct(amm, oracle, reserve_price, now),
            inputs=inputs,
        ),
        Case(
            "isOracleTooDivergent",
            Call("isOracleTooDivergent", amm, oracle, rails),
            lambda: is_oracle_too_divergent(amm, oracle, rails),
            inputs=inputs,
        ),
        Case(
            "getMMOracleDataForPerpMarket",
            Call("getMMOracleDataForPerpMarket", market, oracle, state(rails)),
            lambda: _mm_fields(get_mm_oracle_price_data(market, oracle, rails)),
            read=lambda result: _mm_fields(mm_oracle_data(result)),
            inputs=inputs,
        ),
    ]


@GOLDEN
@given(case=perp_cases(), rails=oracle_guard_rails())
def test_oracle_math_equals_the_sdk(
    sdk: SdkReference, case: PerpCase, rails: OracleGuardRails
) -> None:
    """2,000 drawn markets (MM oracle absent, active, stale, divergent; slots at digit
    boundaries; `now` before and after the TWAPs): every oracle function's outcome,
    value or failure, is the SDK's."""
    check(sdk, oracle_cases(case, rails))
