"""What /admin/market and /admin/spot may set, and how a set lands on the account.

Every field is optional; unknown fields are refused (`extra="forbid"`), and each
value must fit the account field's integer type (an out-of-range value is a 400).
`set_perp_fields` / `set_spot_fields` route field names to where the account keeps
them and keep derived fields consistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from localnet.amm import terminal_quote_reserve
from localnet.variants import CONTRACT_TIERS, STATUSES

__all__ = [
    "STATUS_NAMES",
    "TIER_NAMES",
    "MarketPatch",
    "SpotPatch",
    "StatusName",
    "TierName",
    "set_perp_fields",
    "set_spot_fields",
]

StatusName = Literal[
    "initialized",
    "active",
    "funding_paused",
    "amm_paused",
    "fill_paused",
    "withdraw_paused",
    "reduce_only",
    "settlement",
    "delisted",
]
STATUS_NAMES: tuple[StatusName, ...] = get_args(StatusName)
TierName = Literal["A", "B", "C", "Speculative", "HighlySpeculative", "Isolated"]
TIER_NAMES: tuple[TierName, ...] = get_args(TierName)

U8 = Annotated[int, Field(ge=0, le=2**8 - 1)]
I8 = Annotated[int, Field(ge=-(2**7), le=2**7 - 1)]
U32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
I32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
I64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
U64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
I128 = Annotated[int, Field(ge=-(2**127), le=2**127 - 1)]
U128 = Annotated[int, Field(ge=0, le=2**128 - 1)]
Price = Annotated[int, Field(gt=0, le=2**63 - 1)]  # a positive i64 price (1e6)
Twap = Annotated[int, Field(ge=0, le=2**63 - 1)]
Ts = Annotated[int, Field(ge=0, le=2**63 - 1)]
Interest = Annotated[int, Field(ge=10**10, le=2**128 - 1)]  # never below its start, 1e10


class _Named(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str | None = None
    market_index: int | None = Field(default=None, ge=0, le=2**16 - 1)

    @model_validator(mode="after")
    def _names_one_market(self) -> _Named:
        if (self.symbol is None) == (self.market_index is None):
            raise ValueError("name the market by exactly one of 'symbol' or 'market_index'")
        return self

    @property
    def market(self) -> str | int:
        return self.symbol if self.symbol is not None else self.market_index or 0

    def fields(self) -> dict[str, Any]:
        """The fields to set (the market's name left out)."""
        return self.model_dump(exclude_none=True, exclude={"symbol", "market_index"})


class MarketPatch(_Named):
    """Fields of a perp market that /admin/market may set (any subset).

    Setting `last_funding_rate` alone also sets its long and short variants, as a
    funding update on chain does; give them explicitly to set them apart. Setting
    either base asset amount keeps `base_asset_amount_with_amm` = long + short and
    the terminal quote reserve consistent with it. `oracle_price` moves the oracle
    (and every market sharing it); the MM oracle fields set the market makers' price.
    """

    oracle_price: Price | None = None
    last_funding_rate: I64 | None = None
    last_funding_rate_long: I64 | None = None
    last_funding_rate_short: I64 | None = None
    last24h_avg_funding_rate: I64 | None = None
    last_funding_rate_ts: Ts | None = None
    last_funding_oracle_twap: Twap | None = None
    funding_period: Annotated[int, Field(gt=0, le=2**63 - 1)] | None = None
    last_oracle_price_twap: Twap | None = None
    last_oracle_price_twap5min: Twap | None = None
    last_oracle_price_twap_ts: Ts | None = None
    last_mark_price_twap: Annotated[int, Field(ge=0, le=2**64 - 1)] | None = None
    last_mark_price_twap5min: Annotated[int, Field(ge=0, le=2**64 - 1)] | None = None
    last_mark_price_twap_ts: Ts | None = None
    last_bid_price_twap: Annotated[int, Field(ge=0, le=2**64 - 1)] | None = None
    last_ask_price_twap: Annotated[int, Field(ge=0, le=2**64 - 1)] | None = None
    base_asset_amount_long: Annotated[int, Field(ge=0, le=2**127 - 1)] | None = None
    base_asset_amount_short: Annotated[int, Field(ge=-(2**127), le=0)] | None = None
    mm_oracle_price: I64 | None = None
    mm_oracle_slot: U64 | None = None
    mm_oracle_sequence_id: U64 | None = None
    curve_update_intensity: U8 | None = None
    base_spread: U32 | None = None
    max_spread: U32 | None = None
    amm_spread_adjustment: I8 | None = None
    amm_inventory_spread_adjustment: I8 | None = None
    reference_price_offset: I32 | None = None
    reference_price_offset_deadband_pct: U8 | None = None
    total_fee_minus_distributions: I128 | None = None
    total_exchange_fee: U128 | None = None
    net_revenue_since_last_funding: I64 | None = None
    contract_tier: TierName | None = None
    status: StatusName | None = None


class SpotPatch(_Named):
    """Fields of a spot market that /admin/spot may set (any subset).

    Balances are the program's scaled balances (SPOT_BALANCE_PRECISION 1e9 at the
    cumulative interest); cumulative interests start at 1e10 and never go below it;
    rates and utilization in 1e6 (`min_borrow_rate` in 0.5 % steps, as on chain).
    """

    oracle_price: Price | None = None
    deposit_balance: U128 | None = None
    borrow_balance: U128 | None = None
    cumulative_deposit_interest: Interest | None = None
    cumulative_borrow_interest: Interest | None = None
    optimal_utilization: Annotated[int, Field(gt=0, le=10**6)] | None = None
    optimal_borrow_rate: U32 | None = None
    max_borrow_rate: U32 | None = None
    min_borrow_rate: U8 | None = None
    insurance_fund_total_factor: Annotated[int, Field(ge=0, le=10**6)] | None = None
    last_interest_ts: Ts | None = None
    status: StatusName | None = None


_HISTORICAL = {
    "last_oracle_price_twap",
    "last_oracle_price_twap5min",
    "last_oracle_price_twap_ts",
}
_OPEN_INTEREST = {"base_asset_amount_long", "base_asset_amount_short"}


def set_perp_fields(account: Any, fields: Mapping[str, Any]) -> None:
    """Set PerpMarket fields by name (AMM fields, status, contract tier).

    A change of either base asset amount also sets `base_asset_amount_with_amm` and
    the terminal quote reserve (the reserves after closing the AMM's position);
    ValueError if the AMM's base reserve could not absorb that position.
    """
    amm = account.amm
    if _OPEN_INTEREST & fields.keys():
        long = fields.get("base_asset_amount_long", amm.base_asset_amount_long)
        short = fields.get("base_asset_amount_short", amm.base_asset_amount_short)
        base = fields.get("base_asset_reserve", amm.base_asset_reserve)
        terminal = terminal_quote_reserve(base, fields.get("sqrt_k", amm.sqrt_k), long + short)
        amm.base_asset_amount_with_amm = long + short
        amm.terminal_quote_asset_reserve = terminal
    for name, value in fields.items():
        if name == "status":
            account.status = STATUSES[value]
        elif name == "contract_tier":
            account.contract_tier = CONTRACT_TIERS[value]
        elif name in _HISTORICAL:
            setattr(amm.historical_oracle_data, name, value)
        else:
            setattr(amm, name, value)


def set_spot_fields(account: Any, fields: Mapping[str, Any]) -> None:
    """Set SpotMarket fields by name (balances, interest, rate curve, status)."""
    for name, value in fields.items():
        if name == "status":
            account.status = STATUSES[value]
        elif name == "insurance_fund_total_factor":
            account.insurance_fund.total_factor = value
        else:
            setattr(account, name, value)
