"""Golden vectors, funding family: live TWAPs, the lower-bound, capped and interpolated
estimates, the long/short selection, the funding pool and the on-the-hour schedule
equal the official SDK's for any drawn market and `now`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamer.math.funding import (
    FundingEstimate,
    calculate_all_estimated_funding_rate,
    calculate_funding_pool,
    calculate_long_short_funding_rate_and_live_twaps,
    time_remaining_until_update,
)
from streamer.math.oracle import get_mm_oracle_price_data
from streamer.math.safe_math import MathError
from streamer.math.types import OracleGuardRails, OraclePriceData, PriceReading
from tests.drift_strategies import PerpCase, oracle_guard_rails, perp_cases
from tests.golden import Case, check
from tests.sdk_reference import Call, SdkReference, bn
from tests.test_golden_oracle import GOLDEN


def _estimate(est: FundingEstimate) -> list[int]:
    return [est.mark_twap, est.oracle_twap, est.lower_bound, est.capped_alt, est.interpolated]


def funding_cases(case: PerpCase, rails: OracleGuardRails, mark_price: int | None) -> list[Case]:
    market, oracle, now = case.market, case.oracle, case.now
    amm = market.amm
    try:
        reading: PriceReading = get_mm_oracle_price_data(market, oracle, rails)
    except MathError:  # compared in the oracle family; estimate against the oracle then
        reading = oracle
    mark = None if mark_price is None else bn(mark_price)
    inputs = {"case": case, "rails": rails, "mark_price": mark_price}
    exchange: OraclePriceData = oracle
    return [
        Case(
            "calculateAllEstimatedFundingRate",
            Call(
                "calculateAllEstimatedFundingRate",
                market,
                reading,
                exchange,
                mark,
                bn(now),
                now=now,
            ),
            lambda: _estimate(
                calculate_all_estimated_funding_rate(market, reading, exchange, now, mark_price)  # type: ignore[arg-type]
            ),
            inputs=inputs,
        ),
        Case(
            "calculateLongShortFundingRateAndLiveTwaps",
            Call(
                "calculateLongShortFundingRateAndLiveTwaps",
                market,
                reading,
                exchange,
                mark,
                bn(now),
                now=now,
            ),
            lambda: list(
                calculate_long_short_funding_rate_and_live_twaps(
                    market,
                    reading,  # type: ignore[arg-type]
                    exchange,
                    now,
                    mark_price,
                )
            ),
            inputs=inputs,
        ),
        Case(
            "calculateFundingPool",
            Call("calculateFundingPool", market),
            lambda: calculate_funding_pool(market),
            inputs=inputs,
        ),
        Case(
            "timeRemainingUntilUpdate",
            Call(
                "timeRemainingUntilUpdate",
                bn(now),
                bn(amm.last_funding_rate_ts),
                bn(amm.funding_period),
            ),
            lambda: time_remaining_until_update(now, amm.last_funding_rate_ts, amm.funding_period),
            inputs=inputs,
        ),
    ]


@GOLDEN
@given(case=perp_cases(), rails=oracle_guard_rails(), data=st.data())
def test_funding_math_equals_the_sdk(
    sdk: SdkReference, case: PerpCase, rails: OracleGuardRails, data: st.DataObject
) -> None:
    """2,000 drawn markets and `now`s (before, at and after the TWAP and funding
    timestamps; imbalance either way; every tier; fee pools of either sign), with no
    mark price (the bid/ask mid, as the streamer publishes) or a given one: every
    funding function's outcome, value or failure, is the SDK's."""
    price = abs(case.oracle.price)
    mark = data.draw(
        st.none() | st.integers(max(1, price - price // 20), max(1, price + price // 20))
    )
    check(sdk, funding_cases(case, rails, mark))
