"""Hypothesis strategies for the values of `streamer.math.types`, as on chain.

Every integer field stays within its on-chain width, read from driftpy's IDL (`WIDTHS`).
An example is "realistic" about four times in five: mainnet-like magnitudes that hang
together (reserves ~1e9..1e15 around sqrt_k, peg putting the reserve price near the
oracle price, TWAPs near the price, timestamps ~1.7e9 a little before `now`), so most
examples take the normal path. Otherwise it is "extreme": each field is, with
probability 0.3, replaced by any value of its full width (boundaries and values past
2**53 included), so some examples reach the edges. Enums range over every variant.

`perp_cases()` draws a market with an oracle reading and a `now` that fit it, the
market makers' oracle absent, active, stale or divergent (`MM_CASES`); the other
strategies are parts of it or stand alone (`spot_markets()`, `oracle_guard_rails()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from streamer.math.types import (
    Amm,
    HistoricalOracleData,
    OracleGuardRails,
    OraclePriceData,
    PerpMarket,
    SpotMarket,
)
from tests.drift_widths import (
    CONTRACT_TIERS,
    CONTRACT_TYPES,
    MARKET_STATUSES,
    ORACLE_SOURCES,
    WIDTHS,
    extreme,
    full_width,
    magnitude,
    near,
)

__all__ = [
    "CONTRACT_TIERS",
    "MM_CASES",
    "ORACLE_SOURCES",
    "WIDTHS",
    "PerpCase",
    "full_width",
    "nows",
    "oracle_guard_rails",
    "perp_cases",
    "perp_markets",
    "spot_balance_types",
    "spot_markets",
]

MM_CASES = ("absent", "active", "stale", "divergent")
# The SDK compares slots as decimal strings (`BN <= BN`): slots either side of a
# power of ten reach that.
_DIGIT_EDGES: list[int] = [10**k for k in range(1, 19)]


@dataclass(frozen=True, slots=True)
class PerpCase:
    """A perp market, an oracle reading and a `now` drawn together."""

    market: PerpMarket
    oracle: OraclePriceData
    now: int
    mm_case: str  # one of MM_CASES: what the market makers' oracle was drawn as
    realistic: bool


@st.composite
def _prices(draw: DrawFn, prediction: bool) -> int:
    """An oracle price (PRICE_PRECISION): tiny to huge; a probability for predictions."""
    if prediction:
        return draw(st.integers(1, 999_999))
    return draw(magnitude(1, 10**11))


@st.composite
def _amm(draw: DrawFn, price: int, ts: int, slot: int) -> dict[str, Any]:
    sqrt_k = draw(magnitude(10**9, 10**15))
    with_amm = sqrt_k * draw(st.integers(-3_000, 3_000)) // 10_000  # imbalance either way
    base = sqrt_k - with_amm
    quote = sqrt_k * sqrt_k // base
    long = max(with_amm, 0) + draw(magnitude(0, sqrt_k))
    twap_ts = ts - draw(st.integers(0, 900))
    return {
        "oracle_source": draw(st.sampled_from(ORACLE_SOURCES)),
        "base_asset_reserve": base,
        "quote_asset_reserve": quote,
        "sqrt_k": sqrt_k,
        "peg_multiplier": max(1, near(draw, price * base // quote, 50)),
        "terminal_quote_asset_reserve": sqrt_k * sqrt_k // (base + with_amm),
        "min_base_asset_reserve": base * draw(st.integers(100, 990)) // 1000,
        "max_base_asset_reserve": base * draw(st.integers(1010, 10_000)) // 1000,
        "base_asset_amount_long": long,
        "base_asset_amount_short": with_amm - long,
        "base_asset_amount_with_amm": with_amm,
        "base_asset_amount_with_unsettled_lp": draw(st.sampled_from([0, 0, 0, 1, -1]))
        * draw(magnitude(0, sqrt_k // 100)),
        "total_exchange_fee": draw(magnitude(0, 10**13)),
        "total_fee_minus_distributions": draw(st.integers(-(10**11), 10**13)),
        "net_revenue_since_last_funding": draw(st.integers(-(10**10), 10**10)),
        "last24h_avg_funding_rate": draw(st.integers(-10 * price, 10 * price)),
        "last_funding_rate_ts": ts - draw(st.integers(0, 7_200)),
        "funding_period": draw(st.sampled_from([3600, 3600, 3600, 1800, 28_800])),
        "last_mark_price_twap": near(draw, price, 500),
        "last_mark_price_twap5min": near(draw, price, 200),
        "last_mark_price_twap_ts": twap_ts,
        "last_oracle_conf_pct": draw(st.integers(0, 20_000)),
        "mark_std": price * draw(st.integers(0, 500)) // 10_000,
        "oracle_std": price * draw(st.integers(0, 500)) // 10_000,
        "long_intensity_volume": draw(magnitude(0, 10**12)),
        "short_intensity_volume": draw(magnitude(0, 10**12)),
        "volume24h": draw(magnitude(0, 10**14)),
        "base_spread": draw(st.sampled_from([0, 100, 250, 500, 1_000])) + draw(st.integers(0, 99)),
        "max_spread": draw(st.integers(0, 300_000)),
        "curve_update_intensity": draw(st.integers(0, 200)),
        "amm_spread_adjustment": draw(st.integers(-100, 100)),  # negative narrows the spread
        "amm_inventory_spread_adjustment": draw(st.integers(-100, 100)),
        "reference_price_offset": draw(st.integers(-10_000, 10_000)),
        "reference_price_offset_deadband_pct": draw(st.integers(0, 100)),
        "last_update_slot": max(0, slot - draw(st.integers(0, 50))),
    }


@st.composite
def _historical(draw: DrawFn, price: int, ts: int) -> dict[str, int]:
    return {
        "last_oracle_price": near(draw, price, 200),
        "last_oracle_conf": price * draw(st.integers(0, 50)) // 10_000,
        "last_oracle_delay": draw(st.integers(0, 30)),
        "last_oracle_price_twap": near(draw, price, 500),
        "last_oracle_price_twap5min": near(draw, price, 200),
        "last_oracle_price_twap_ts": ts - draw(st.integers(0, 900)),
    }


@st.composite
def _mm_oracle(draw: DrawFn, case: str, oracle: dict[str, Any]) -> dict[str, int]:
    """`amm.mm_oracle_*` for the case, relative to the exchange oracle's reading."""
    price, slot, seq = oracle["price"], oracle["slot"], oracle.get("sequence_id")
    if case == "absent":
        return {
            "mm_oracle_slot": 0,
            "mm_oracle_price": draw(st.sampled_from([0, price])),
            "mm_oracle_sequence_id": draw(st.sampled_from([0, seq or 0])),
        }
    lag = draw(st.integers(0 if case == "active" else 1, 30))
    mm_slot = slot + lag if case != "stale" else max(1, slot - lag)
    if case == "divergent":  # more than the SDK's 1 % from the oracle
        bps = draw(st.sampled_from([-1, 1])) * draw(st.integers(101, 2_000))
    else:
        bps = draw(st.integers(-90, 90))
    mm_seq = 0
    if seq and draw(st.booleans()):
        # within the SDK's 1/10_000 of the oracle's sequence id, or beyond it
        step = draw(st.sampled_from([0, 1, seq // 20_000, seq // 5_000]))
        mm_seq = max(0, seq + draw(st.sampled_from([1, -1])) * step)
    return {
        "mm_oracle_slot": mm_slot,
        "mm_oracle_price": max(0, price + price * bps // 10_000),
        "mm_oracle_sequence_id": mm_seq,
    }


@st.composite
def _oracle(draw: DrawFn, price: int, ts: int, slot: int, source: str) -> dict[str, Any]:
    """An exchange oracle reading shaped as the source's SDK client returns it."""
    conf = price * draw(st.integers(0, 100)) // 10_000
    out: dict[str, Any] = {
        "price": price,
        "slot": slot,
        "confidence": conf,
        "has_sufficient_number_of_data_points": draw(st.sampled_from([*[True] * 9, False])),
    }
    if source.startswith("Pyth"):  # twap = price; sequence id = publish time
        micros = source.startswith("PythLazer")
        out |= {"twap": price, "twap_confidence": price}
        out["sequence_id"] = draw(st.sampled_from([None, 0, ts * 10**6 if micros else ts]))
    elif source == "Prelaunch":
        out["max_price"] = price * draw(st.integers(1, 20))
    return out


@st.composite
def _slots(draw: DrawFn) -> int:
    """A slot like mainnet's (~3e8), or one next to a power of ten."""
    if draw(st.integers(0, 9)) == 0:
        return max(1, draw(st.sampled_from(_DIGIT_EDGES)) + draw(st.integers(-40, 40)))
    return draw(st.integers(10**8, 5 * 10**8))


@st.composite
def perp_cases(draw: DrawFn, contract_type: str | None = None) -> PerpCase:
    """A perp market with an oracle reading and a `now` that fit together."""
    realistic = draw(st.integers(0, 4)) > 0
    kind = contract_type or draw(st.sampled_from(["Perpetual", "Perpetual", *CONTRACT_TYPES]))
    price = draw(_prices(kind == "Prediction"))
    ts = draw(st.integers(1_600_000_000, 1_900_000_000))
    slot = draw(_slots())
    amm = draw(_amm(price, ts, slot))
    oracle = draw(_oracle(price, ts, slot + draw(st.integers(0, 5)), amm["oracle_source"]))
    mm_case = draw(st.sampled_from(MM_CASES))
    amm |= draw(_mm_oracle(mm_case, oracle))
    historical = draw(_historical(price, ts))
    market_index = draw(st.integers(0, 100))
    if not realistic:
        amm = extreme(draw, amm, WIDTHS[Amm])
        historical = extreme(draw, historical, WIDTHS[HistoricalOracleData])
        oracle = extreme(draw, oracle, WIDTHS[OraclePriceData])
        market_index = draw(full_width("u16"))
    market = PerpMarket(
        market_index=market_index,
        amm=Amm(**amm, historical_oracle_data=HistoricalOracleData(**historical)),
        status=draw(st.sampled_from(["Active", "Active", *MARKET_STATUSES])),
        contract_type=kind,
        contract_tier=draw(st.sampled_from(CONTRACT_TIERS)),
    )
    return PerpCase(market, OraclePriceData(**oracle), draw(nows(market)), mm_case, realistic)


def perp_markets(contract_type: str | None = None) -> st.SearchStrategy[PerpMarket]:
    """The market of `perp_cases()`."""
    return perp_cases(contract_type).map(lambda case: case.market)


# `now` is also pinned as the harness's wall clock: keep it a valid JS Date (ms).
_DATE_LIMIT_S = 8_640_000_000_000


@st.composite
def nows(draw: DrawFn, market: PerpMarket) -> int:
    """Unix seconds before, at and after the market's funding and TWAP timestamps."""
    amm = market.amm
    stamps = [
        amm.last_funding_rate_ts,
        amm.last_mark_price_twap_ts,
        amm.historical_oracle_data.last_oracle_price_twap_ts,
    ]
    anchor = draw(st.sampled_from([max(stamps), *stamps]))
    if draw(st.integers(0, 9)) == 0:
        offset = draw(st.integers(-(2**40), 2**40))
    else:
        offset = draw(
            st.one_of(
                st.integers(-600, 3 * 3600),
                st.sampled_from([0, 1, -1, amm.funding_period, amm.funding_period + 1]),
            )
        )
    return max(-_DATE_LIMIT_S, min(_DATE_LIMIT_S, anchor + offset))


@st.composite
def oracle_guard_rails(draw: DrawFn) -> OracleGuardRails:
    """`State.oracle_guard_rails`: mainnet's values and their neighbours, or any."""
    values = {
        "mark_oracle_percent_divergence": draw(st.sampled_from([50_000, 100_000, 200_000])),
        "oracle_twap5min_percent_divergence": draw(st.sampled_from([100_000, 500_000, 900_000])),
        "slots_before_stale_for_amm": draw(st.sampled_from([10, 15, 20])),
        "slots_before_stale_for_margin": draw(st.sampled_from([60, 120])),
        "confidence_interval_max_size": draw(st.sampled_from([20_000, 50_000])),
        "too_volatile_ratio": draw(st.sampled_from([5, 10])),
    }
    if draw(st.integers(0, 4)) == 0:
        values = extreme(draw, values, WIDTHS[OracleGuardRails])
    return OracleGuardRails(**values)


_SPOT_PRECISION = 10**10  # SPOT_CUMULATIVE_INTEREST_PRECISION
# Above 19 decimals the program's 10**(19 - decimals) underflows; a full-width u32
# would make the SDK compute 10**(19 - 4e9), which never ends: a few past 19 only.
_MAX_DECIMALS = 24


@st.composite
def spot_markets(draw: DrawFn) -> SpotMarket:
    """A spot market: balances, cumulative interest, utilization 0..100 %, rate curve."""
    cum_deposit = _SPOT_PRECISION + draw(magnitude(0, 10 * _SPOT_PRECISION))
    cum_borrow = cum_deposit + draw(magnitude(0, 10 * _SPOT_PRECISION))
    deposit = draw(magnitude(0, 10**18))
    utilization = draw(st.one_of(st.sampled_from([0, 10_000]), st.integers(0, 10_000)))
    optimal_rate = draw(st.integers(0, 500_000))
    values = {
        "market_index": draw(st.integers(0, 70)),
        "decimals": draw(st.one_of(st.sampled_from([6, 9, 8, 5]), st.integers(0, 19))),
        "deposit_balance": deposit,
        "borrow_balance": deposit * cum_deposit * utilization // (cum_borrow * 10_000),
        "cumulative_deposit_interest": cum_deposit,
        "cumulative_borrow_interest": cum_borrow,
        "optimal_utilization": draw(
            st.one_of(
                st.sampled_from([500_000, 700_000, 800_000, 900_000]), st.integers(0, 1_000_000)
            )
        ),
        "optimal_borrow_rate": optimal_rate,
        "max_borrow_rate": draw(st.integers(optimal_rate, 5_000_000)),
        "min_borrow_rate": draw(st.integers(0, 20)),
        "insurance_fund_total_factor": draw(st.integers(0, 1_000_000)),
    }
    if draw(st.integers(0, 4)) == 0:
        values = extreme(draw, values, WIDTHS[SpotMarket])
        values["decimals"] = draw(st.integers(0, _MAX_DECIMALS))
    return SpotMarket(
        **values,
        oracle_source=draw(st.sampled_from(ORACLE_SOURCES)),
        status=draw(st.sampled_from(["Active", "Active", *MARKET_STATUSES])),
    )


def spot_balance_types() -> st.SearchStrategy[str]:
    """`SpotBalanceType` variants (pass them to the SDK as `enum(...)`)."""
    return st.sampled_from(["Deposit", "Borrow"])
