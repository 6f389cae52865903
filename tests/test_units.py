"""Unit conversions (funding, prices, spot rates), checked against values computed by hand."""

from __future__ import annotations

import pytest

from schemas.units import (
    FUNDING_RATE_PRECISION,
    HOURS_PER_YEAR,
    PERCENTAGE_PRECISION,
    PREDICTED_PCT_PRECISION,
    PRICE_PRECISION,
    SPOT_UTILIZATION_PRECISION,
    annualized_rate_pct,
    hourly_rate_pct,
    predicted_hourly_pct,
    price_from_raw,
    rate_pct,
    select_twap,
    token_amount,
    utilization_pct,
)

REL = 1e-12


def test_precision_constants() -> None:
    """The precisions are Drift's: funding rates 1e9, prices 1e6, SDK estimates % * 1e6,
    spot rates and utilization 1e6."""
    assert FUNDING_RATE_PRECISION == 1_000_000_000
    assert PRICE_PRECISION == 1_000_000
    assert PREDICTED_PCT_PRECISION == 1_000_000
    assert PERCENTAGE_PRECISION == 1_000_000
    assert SPOT_UTILIZATION_PRECISION == 1_000_000
    assert HOURS_PER_YEAR == 8766.0  # 24 * 365.25


def test_hourly_rate_sol_example() -> None:
    """A positive rate divided by its TWAP gives the hand-computed hourly percent."""
    # 1_250_000 / 1e9 = 0.00125 USD per SOL per hour; twap 150_000_000 / 1e6 = 150 USD
    # 0.00125 / 150 * 100 = 0.000833333...% per hour (= 1/1200)
    assert hourly_rate_pct(1_250_000, 150_000_000) == pytest.approx(0.000833333333333333, rel=REL)


def test_annualized_sol_example() -> None:
    """Annualizing multiplies the hourly percent by 24 * 365.25 = 8766."""
    # 0.000833333...% * 8766 = 8766 / 1200 = 7.305% per year
    hourly = hourly_rate_pct(1_250_000, 150_000_000)
    assert hourly is not None
    assert annualized_rate_pct(hourly) == pytest.approx(7.305, rel=REL)


def test_hourly_rate_negative_btc_example() -> None:
    """A negative rate (shorts pay longs) keeps its sign through both conversions."""
    # -3_000_000 / 1e9 = -0.003 USD per BTC; twap 60_000_000_000 / 1e6 = 60_000 USD
    # -0.003 / 60_000 * 100 = -0.000005% per hour; * 8766 = -0.04383% per year
    hourly = hourly_rate_pct(-3_000_000, 60_000_000_000)
    assert hourly == pytest.approx(-0.000005, rel=REL)
    assert hourly is not None
    assert annualized_rate_pct(hourly) == pytest.approx(-0.04383, rel=REL)


def test_hourly_rate_smallest_unit() -> None:
    """One raw unit of rate at a 1 USD TWAP is 1e-9 USD, i.e. 1e-7 percent."""
    # 1 / 1e9 / (1_000_000 / 1e6) * 100 = 1e-9 * 100 = 1e-7
    assert hourly_rate_pct(1, 1_000_000) == pytest.approx(1e-7, rel=REL)


def test_hourly_rate_zero_rate() -> None:
    """A zero rate with a valid TWAP is 0.0 percent, not None."""
    assert hourly_rate_pct(0, 150_000_000) == 0.0


@pytest.mark.parametrize("twap", [0, -1, -150_000_000])
def test_hourly_rate_undefined_without_positive_twap(twap: int) -> None:
    """A TWAP of zero or below makes the rate undefined: None, never ZeroDivisionError."""
    assert hourly_rate_pct(1_250_000, twap) is None


def test_select_twap_prefers_funding_twap() -> None:
    """amm.last_funding_oracle_twap is used whenever it is set."""
    assert select_twap(149_000_000, 150_000_000) == 149_000_000


def test_select_twap_falls_back_when_zero() -> None:
    """A zero funding TWAP falls back to historical_oracle_data.last_oracle_price_twap."""
    assert select_twap(0, 150_000_000) == 150_000_000
    # same SOL example as above, but reached through the fallback TWAP
    twap = select_twap(0, 150_000_000)
    assert hourly_rate_pct(1_250_000, twap) == pytest.approx(0.000833333333333333, rel=REL)


def test_select_twap_both_zero_gives_undefined_rate() -> None:
    """With both TWAPs zero the selected TWAP is 0 and the rate is None."""
    assert select_twap(0, 0) == 0
    assert hourly_rate_pct(1_250_000, select_twap(0, 0)) is None


def test_predicted_hourly_pct() -> None:
    """The SDK's estimates are percent * 1e6: dividing by 1e6 gives percent."""
    assert predicted_hourly_pct(833) == pytest.approx(0.000833, rel=REL)
    assert predicted_hourly_pct(-12_345) == pytest.approx(-0.012345, rel=REL)
    assert predicted_hourly_pct(0) == 0.0


def test_spot_units() -> None:
    """Spot rates and utilization are 1e6 fractions; token amounts scale by decimals."""
    assert rate_pct(52_500) == pytest.approx(5.25, rel=REL)  # 0.0525 a year
    assert rate_pct(0) == 0.0
    assert utilization_pct(1_000_000) == pytest.approx(100.0, rel=REL)
    assert utilization_pct(123_456) == pytest.approx(12.3456, rel=REL)
    assert token_amount(1_500_000, 6) == pytest.approx(1.5, rel=REL)
    assert token_amount(25, 0) == 25.0


def test_predicted_and_on_chain_units_agree() -> None:
    """An SDK estimate and the on-chain rate for the same spread give the same percent."""
    # Mark-oracle spread 0.0125 USD at a 150 USD twap (raw 12_500 and 150_000_000).
    # SDK:     twap_spread_pct = 12_500 * 1e6 * 100 / 150_000_000 = 8_333.33 (% * 1e6, daily)
    #          interp_est = int(8_333.33 / 24) = 347 (% * 1e6, hourly) -> 0.000347%
    # on chain: rate = spread / 24 = 0.000520833 USD -> raw 520_833 (1e9)
    #          0.000520833 / 150 * 100 = 0.000347222% per hour
    predicted = predicted_hourly_pct(347)
    on_chain = hourly_rate_pct(520_833, 150_000_000)
    assert predicted == pytest.approx(0.000347, rel=REL)
    assert on_chain == pytest.approx(0.000347222, rel=1e-6)
    assert on_chain == pytest.approx(predicted, rel=1e-3)  # 347 was truncated from 347.2


def test_price_from_raw() -> None:
    """Raw prices are 1e6: 150_123_456 is 150.123456 USD."""
    assert price_from_raw(150_123_456) == pytest.approx(150.123456, rel=REL)
    assert price_from_raw(1) == pytest.approx(0.000001, rel=REL)
    assert price_from_raw(0) == 0.0
