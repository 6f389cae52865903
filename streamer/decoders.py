"""The two decoders of market accounts, chosen by `DRIFT_DECODER`: ours and driftpy's.

"own" (the default) is `streamer.account_decode`. "anchorpy" decodes with driftpy's IDL
coder (`streamer.idl.decode_account`) and takes the same values out of its objects
(`perp_account_of`, `spot_account_of`), as the streamer did before it had a decoder of
its own. For the same bytes both give equal accounts (tests/test_account_decode.py),
so what is published is the same either way; the second is kept for side-by-side
measurement, and `streamer.driftpy_source` converts driftpy's objects with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from streamer.account_decode import (
    AMM_INTS,
    HISTORICAL_INTS,
    PerpAccount,
    SpotAccount,
    decode_perp,
    decode_spot,
)
from streamer.decode import variant
from streamer.idl import decode_account
from streamer.math.types import Amm, HistoricalOracleData, PerpMarket, SpotMarket
from streamer.source_types import DecoderName

__all__ = [
    "DECODERS",
    "Decoders",
    "amm_of",
    "perp_account_of",
    "perp_market_of",
    "spot_account_of",
    "spot_market_of",
]


@dataclass(frozen=True, slots=True)
class Decoders:
    """Account bytes to decoded markets; SourceError(kind="decode") for bytes that are not."""

    perp: Callable[[bytes], PerpAccount]
    spot: Callable[[bytes], SpotAccount]


def amm_of(amm: Any) -> Amm:
    """The math's view of driftpy's decoded `PerpMarket.amm`."""
    hist = amm.historical_oracle_data
    return Amm(
        oracle_source=variant(amm.oracle_source),
        historical_oracle_data=HistoricalOracleData(
            **{name: int(getattr(hist, name)) for name in HISTORICAL_INTS}
        ),
        **{name: int(getattr(amm, name)) for name in AMM_INTS},
    )


def perp_market_of(market: Any) -> PerpMarket:
    """The math's view of driftpy's decoded PerpMarket."""
    return PerpMarket(
        market_index=int(market.market_index),
        amm=amm_of(market.amm),
        status=variant(market.status),
        contract_type=variant(market.contract_type),
        contract_tier=variant(market.contract_tier),
    )


def spot_market_of(spot: Any) -> SpotMarket:
    """The math's view of driftpy's decoded SpotMarket."""
    return SpotMarket(
        market_index=int(spot.market_index),
        decimals=int(spot.decimals),
        deposit_balance=int(spot.deposit_balance),
        borrow_balance=int(spot.borrow_balance),
        cumulative_deposit_interest=int(spot.cumulative_deposit_interest),
        cumulative_borrow_interest=int(spot.cumulative_borrow_interest),
        optimal_utilization=int(spot.optimal_utilization),
        optimal_borrow_rate=int(spot.optimal_borrow_rate),
        max_borrow_rate=int(spot.max_borrow_rate),
        min_borrow_rate=int(spot.min_borrow_rate),
        insurance_fund_total_factor=int(spot.insurance_fund.total_factor),
        oracle_source=variant(spot.oracle_source),
        status=variant(spot.status),
    )


def perp_account_of(market: Any) -> PerpAccount:
    """Driftpy's decoded PerpMarket as our PerpAccount; its `full()` is that object."""
    amm = market.amm
    return PerpAccount(
        perp_market_of(market),
        name=bytes(market.name),
        oracle=str(amm.oracle),
        last_funding_rate=int(amm.last_funding_rate),
        last_funding_rate_long=int(amm.last_funding_rate_long),
        last_funding_rate_short=int(amm.last_funding_rate_short),
        last_funding_oracle_twap=int(amm.last_funding_oracle_twap),
        full=lambda: market,
    )


def spot_account_of(spot: Any) -> SpotAccount:
    """Driftpy's decoded SpotMarket as our SpotAccount; its `full()` is that object."""
    return SpotAccount(
        spot_market_of(spot), name=bytes(spot.name), oracle=str(spot.oracle), full=lambda: spot
    )


def _anchorpy_perp(data: bytes) -> PerpAccount:
    return perp_account_of(decode_account("PerpMarket", data))


def _anchorpy_spot(data: bytes) -> SpotAccount:
    return spot_account_of(decode_account("SpotMarket", data))


DECODERS: Mapping[DecoderName, Decoders] = MappingProxyType(
    {
        "own": Decoders(decode_perp, decode_spot),
        "anchorpy": Decoders(_anchorpy_perp, _anchorpy_spot),
    }
)
"""The decoders by `DRIFT_DECODER` name."""
