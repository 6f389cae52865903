"""Wire models from market states: FundingRate, MarketSnapshot, PerpMarketInfo,
SpotMarketSnapshot.

The unit conversions themselves live in `schemas.units`; this module only says which
state field goes where.
"""

from __future__ import annotations

from schemas import FundingRate, MarketSnapshot, PerpMarketInfo, SpotMarketSnapshot
from schemas.subjects import Network
from schemas.units import PRICE_PRECISION
from streamer.state import MarketState, SpotState

__all__ = ["funding_rate", "market_info", "market_snapshot", "spot_snapshot"]

BASE_PRECISION = 10**9


def funding_rate(
    state: MarketState, *, network: Network, slot: int, ts: float, epoch: int
) -> FundingRate:
    """The FundingRate of a market (SchemaError if its values are not publishable)."""
    return FundingRate.from_raw(
        network=network,
        slot=slot,
        ts=ts,
        market_index=state.market_index,
        symbol=state.symbol,
        last_funding_rate=state.last_funding_rate,
        last_funding_rate_long=state.last_funding_rate_long,
        last_funding_rate_short=state.last_funding_rate_short,
        last_funding_rate_ts=state.last_funding_rate_ts,
        last_funding_oracle_twap=state.last_funding_oracle_twap,
        last_oracle_price_twap=state.last_oracle_price_twap,
        last24h_avg_funding_rate=state.last24h_avg_funding_rate,
        funding_period_s=state.funding_period,
        epoch=epoch,
        predicted_long=state.predicted_long,
        predicted_short=state.predicted_short,
        predicted_at=state.predicted_at,
        mark_twap_live=state.mark_twap_live,
        oracle_twap_live=state.oracle_twap_live,
        next_funding_ts=state.next_funding_ts,
        market_slot=state.market_slot,
        oracle_slot=state.oracle_slot,
    )


def _price(raw: int | None) -> float | None:
    return None if raw is None else raw / PRICE_PRECISION


def market_snapshot(
    state: MarketState, *, network: Network, slot: int, ts: float, epoch: int
) -> MarketSnapshot | None:
    """The MarketSnapshot of a market; None while its oracle price is unknown."""
    if state.oracle_price is None:
        return None
    long_oi = state.base_asset_amount_long / BASE_PRECISION
    short_oi = abs(state.base_asset_amount_short) / BASE_PRECISION
    return MarketSnapshot(
        network=network,
        slot=slot,
        ts=ts,
        market_index=state.market_index,
        symbol=state.symbol,
        oracle_price=state.oracle_price / PRICE_PRECISION,
        oracle_price_raw=state.oracle_price,
        market_slot=state.market_slot,
        oracle_slot=state.oracle_slot,
        mm_oracle_price=_price(state.mm_oracle_price),
        mm_oracle_price_raw=state.mm_oracle_price,
        mm_oracle_used=state.mm_oracle_used,
        mark_price=_price(state.mark_price),
        priced_at=state.priced_at,
        bid_price=_price(state.bid_price),
        ask_price=_price(state.ask_price),
        open_interest=max(long_oi, short_oi),
        open_interest_long=long_oi,
        open_interest_short=short_oi,
        status=state.status,
        contract_type=state.contract_type,
        epoch=epoch,
    )


def market_info(state: MarketState) -> PerpMarketInfo:
    return PerpMarketInfo(
        market_index=state.market_index,
        symbol=state.symbol,
        status=state.status,
        oracle=state.oracle,
        oracle_source=state.oracle_source,
    )


def spot_snapshot(
    state: SpotState, *, network: Network, slot: int, ts: float, epoch: int
) -> SpotMarketSnapshot | None:
    """The SpotMarketSnapshot of a spot market; None while its oracle price is unknown
    (ValueError, SchemaError included, if its values are not publishable)."""
    if state.oracle_price is None:
        return None
    return SpotMarketSnapshot.from_raw(
        network=network,
        slot=slot,
        ts=ts,
        market_index=state.market_index,
        symbol=state.symbol,
        decimals=state.decimals,
        status=state.status,
        oracle=state.oracle,
        oracle_source=state.oracle_source,
        oracle_price=state.oracle_price,
        deposit_rate=state.deposit_rate,
        borrow_rate=state.borrow_rate,
        utilization=state.utilization,
        total_deposits=state.total_deposits,
        total_borrows=state.total_borrows,
        market_slot=state.market_slot,
        oracle_slot=state.oracle_slot,
        epoch=epoch,
    )
