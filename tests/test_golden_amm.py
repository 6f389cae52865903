"""Golden vectors, AMM family: the repegged AMM, spreads (float64 as the SDK computes
them), spread reserves and bid/ask equal the official SDK's for any drawn market."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streamer.math.amm import calculate_bid_ask_price, calculate_spread_reserves
from streamer.math.oracle import get_mm_oracle_price_data
from streamer.math.repeg import calculate_price, calculate_updated_amm
from streamer.math.safe_math import MathError, square_root
from streamer.math.spread import calculate_spread
from streamer.math.types import Amm, MMOraclePriceData, OracleGuardRails
from tests.drift_strategies import PerpCase, full_width, oracle_guard_rails, perp_cases
from tests.drift_widths import WIDTHS, bounds
from tests.golden import Case, check, fields_of
from tests.sdk_reference import Call, SdkReference, bn
from tests.test_golden_oracle import GOLDEN


def _reserves(pair: Any) -> list[tuple[int, int]]:
    return [(r.base_asset_reserve, r.quote_asset_reserve) for r in pair]


def _sdk_reserves(result: list[dict[str, int]]) -> list[tuple[int, int]]:
    return [(r["baseAssetReserve"], r["quoteAssetReserve"]) for r in result]


def fits_on_chain(amm: Amm) -> bool:
    """Whether every field of `amm` fits its on-chain width (an account could hold it)."""
    for name, width in WIDTHS[Amm].items():
        low, high = bounds(width)
        if not low <= getattr(amm, name) <= high:
            return False
    return True


def _mm(case: PerpCase, rails: OracleGuardRails) -> MMOraclePriceData | None:
    try:
        return get_mm_oracle_price_data(case.market, case.oracle, rails)
    except MathError:  # compared in the oracle family; price against the oracle then
        return None


def amm_cases(
    case: PerpCase, rails: OracleGuardRails, latest_slot: int | None, prediction: bool
) -> list[Case]:
    amm, now = case.market.amm, case.now
    reading = _mm(case, rails) or case.oracle
    inputs = {"case": case, "rails": rails, "latest_slot": latest_slot, "prediction": prediction}
    cases = [
        Case(
            "calculateUpdatedAMM",
            Call("calculateUpdatedAMM", amm, reading),
            lambda: calculate_updated_amm(amm, reading),
            read=lambda result: Amm(**fields_of(result, amm)),
            inputs=inputs,
        ),
        Case(
            "calculateBidAskPrice",
            Call(
                "calculateBidAskPrice",
                amm,
                reading,
                True,
                prediction,
                None if latest_slot is None else bn(latest_slot),
                now=now,
            ),
            lambda: list(
                calculate_bid_ask_price(
                    amm, reading, now, is_prediction=prediction, latest_slot=latest_slot
                )
            ),
            inputs=inputs,
        ),
    ]
    try:
        updated = calculate_updated_amm(amm, reading)
    except MathError:
        return cases  # the SDK fails there too (compared above)
    if not fits_on_chain(updated):
        # The SDK's objects hold any BN, but no account can: spreads of such an AMM are
        # still compared inside calculateBidAskPrice above.
        return cases
    reserve_price = calculate_price(
        updated.base_asset_reserve, updated.quote_asset_reserve, updated.peg_multiplier
    )
    return [
        *cases,
        Case(
            "calculateSpread",
            Call("calculateSpread", updated, reading, bn(now), bn(reserve_price)),
            lambda: list(calculate_spread(updated, reading, now, reserve_price)),
            inputs={**inputs, "updated": updated},
        ),
        Case(
            "calculateSpreadReserves",
            Call(
                "calculateSpreadReserves",
                updated,
                reading,
                None,
                prediction,
                None if latest_slot is None else bn(latest_slot),
                now=now,
            ),
            lambda: _reserves(
                calculate_spread_reserves(
                    updated, reading, now, is_prediction=prediction, latest_slot=latest_slot
                )
            ),
            read=_sdk_reserves,
            inputs={**inputs, "updated": updated},
        ),
    ]


@GOLDEN
@given(
    case=perp_cases(),
    rails=oracle_guard_rails(),
    latest_slot=st.none() | st.integers(0, 2**40),
    data=st.data(),
)
def test_amm_math_equals_the_sdk(
    sdk: SdkReference,
    case: PerpCase,
    rails: OracleGuardRails,
    latest_slot: int | None,
    data: st.DataObject,
) -> None:
    """2,000 drawn markets (all tiers, prediction markets, reference offsets of either
    sign, inventory either way, fee pools positive and negative, tiny and huge prices),
    priced with the MM oracle reading where the SDK would use it: the repegged AMM,
    both spreads, the spread reserves and bid/ask are the SDK's, value or failure."""
    prediction = case.market.contract_type == "Prediction" and data.draw(st.booleans())
    if latest_slot is not None:
        latest_slot = case.market.amm.last_update_slot + latest_slot % 5000
    check(sdk, amm_cases(case, rails, latest_slot, prediction))


@GOLDEN
@given(n=st.one_of(full_width("u128"), st.integers(-(2**64), -1), st.integers(0, 10**6)))
def test_square_root_equals_the_sdk(sdk: SdkReference, n: int) -> None:
    """`squareRootBN` (the prediction-market bounds' square root) for any u128 and
    negative input: floor(sqrt(n)), or the SDK's error."""
    check(sdk, [Case("squareRootBN", Call("squareRootBN", bn(n)), lambda: square_root(n))])


def test_updated_amm_is_compared_field_by_field() -> None:
    """`fields_of` reads every field of our Amm from the SDK's camelCase object, so a
    repeg that moved any of them shows (a sanity check of the comparison itself)."""
    amm = Amm(base_asset_reserve=5, last24h_avg_funding_rate=7)
    sdk_like = {norm: value for norm, value in _camel(amm).items()}
    assert Amm(**fields_of(sdk_like, amm)) == amm
    changed = dict(sdk_like, last24HAvgFundingRate=8)
    assert Amm(**fields_of(changed, amm)) != amm


def _camel(amm: Amm) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(amm):
        value = getattr(amm, field.name)
        head, *rest = field.name.split("_")
        name = head + "".join(part[:1].upper() + part[1:] for part in rest)
        name = name.replace("24h", "24H").replace("5min", "5Min")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[name] = {
                f.name.replace("_", ""): getattr(value, f.name) for f in dataclasses.fields(value)
            }
        else:
            out[name] = value if not isinstance(value, str) else value[:1].lower() + value[1:]
    return out
