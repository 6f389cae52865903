"""Drift's enum variants by the names localnet's admin API uses for them."""

from __future__ import annotations

from typing import Any

from driftpy.types import ContractTier, MarketStatus

__all__ = ["CONTRACT_TIERS", "STATUSES", "status_name", "tier_name"]

STATUSES: dict[str, Any] = {
    "initialized": MarketStatus.Initialized(),
    "active": MarketStatus.Active(),
    "funding_paused": MarketStatus.FundingPaused(),
    "amm_paused": MarketStatus.AmmPaused(),
    "fill_paused": MarketStatus.FillPaused(),
    "withdraw_paused": MarketStatus.WithdrawPaused(),
    "reduce_only": MarketStatus.ReduceOnly(),
    "settlement": MarketStatus.Settlement(),
    "delisted": MarketStatus.Delisted(),
}
CONTRACT_TIERS: dict[str, Any] = {
    "A": ContractTier.A(),
    "B": ContractTier.B(),
    "C": ContractTier.C(),
    "Speculative": ContractTier.Speculative(),
    "HighlySpeculative": ContractTier.HighlySpeculative(),
    "Isolated": ContractTier.Isolated(),
}


def status_name(status: object) -> str:
    """`MarketStatus.FundingPaused()` -> `funding_paused`."""
    return next((k for k, v in STATUSES.items() if type(v) is type(status)), str(status))


def tier_name(tier: object) -> str:
    """`ContractTier.HighlySpeculative()` -> `HighlySpeculative`."""
    return type(tier).__name__
