"""Golden vectors, spot family: token amounts, utilization and the deposit and borrow
rates equal the official SDK's for any drawn spot market."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamer.math.spot import (
    calculate_borrow_rate,
    calculate_deposit_rate,
    calculate_interest_rate,
    calculate_utilization,
    get_token_amount,
)
from streamer.math.types import SpotMarket
from tests.drift_strategies import spot_markets
from tests.golden import Case, check
from tests.sdk_reference import Call, SdkReference, bn, enum
from tests.test_golden_oracle import GOLDEN


def spot_cases(market: SpotMarket, delta: int) -> list[Case]:
    inputs = {"market": market, "delta": delta}
    cases = [
        Case(
            f"getTokenAmount({kind})",
            Call("getTokenAmount", bn(balance), market, enum(kind)),
            lambda balance=balance, kind=kind: get_token_amount(  # type: ignore[misc]
                balance, market, borrow=kind == "Borrow"
            ),
            inputs=inputs,
        )
        for balance, kind in (
            (market.deposit_balance, "Deposit"),
            (market.borrow_balance, "Borrow"),
        )
    ]
    for name, ours in (
        ("calculateUtilization", calculate_utilization),
        ("calculateInterestRate", calculate_interest_rate),
        ("calculateBorrowRate", calculate_borrow_rate),
        ("calculateDepositRate", calculate_deposit_rate),
    ):
        for d in (0, delta):
            cases.append(
                Case(
                    f"{name}(delta={d})",
                    Call(name, market, bn(d)),
                    lambda ours=ours, d=d: ours(market, d),  # type: ignore[misc]
                    inputs=inputs,
                )
            )
    return cases


@GOLDEN
@given(
    market=spot_markets(),
    delta=st.one_of(st.integers(-(10**15), 10**15), st.integers(-(2**64), 2**64)),
)
def test_spot_math_equals_the_sdk(sdk: SdkReference, market: SpotMarket, delta: int) -> None:
    """2,000 drawn spot markets (balances, cumulative interest, utilization 0-100 % and
    beyond, any optimal-rate curve) and deposit/borrow deltas: token amounts,
    utilization and rates are the SDK's, value or failure."""
    check(sdk, spot_cases(market, delta))
