"""Drift's markets in the ledger: State, perp and spot markets, and their oracles.

`DriftMarkets` keeps one mutable anchorpy object per perp market, so a change to a
field re-encodes that account and the ledger notifies subscribers. Perp values are
what driftpy reads back exactly: oracle price (1e6), funding fields (1e9), TWAPs (1e6).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from driftpy.addresses import (
    get_perp_market_public_key,
    get_spot_market_public_key,
    get_state_public_key,
)
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.name import encode_name
from driftpy.types import ContractTier, ContractType, MarketStatus, OracleSource
from pydantic import BaseModel, ConfigDict, Field, model_validator
from solders.pubkey import Pubkey

from localnet import codec
from localnet.errors import AdminError
from localnet.ledger import Ledger
from localnet.oracles import encode_oracle, multiplier, oracle_price
from localnet.presets import PerpSpec, Preset, SpotSpec

__all__ = ["STATUSES", "DriftMarkets", "MarketPatch", "PerpView", "status_name"]

STATE_ADDRESS = get_state_public_key(DRIFT_PROGRAM_ID)
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
_RESERVE = 10**15  # AMM reserves (AMM_RESERVE_PRECISION 1e9): a million base units


def status_name(status: object) -> str:
    """`MarketStatus.FundingPaused()` -> `funding_paused`."""
    return next((k for k, v in STATUSES.items() if type(v) is type(status)), str(status))


class MarketPatch(BaseModel):
    """Fields of a perp market that /admin/market may set (any subset).

    Setting `last_funding_rate` alone also sets its long and short variants, as a
    funding update on chain does; give them explicitly to set them apart.
    """

    model_config = ConfigDict(extra="forbid")

    symbol: str | None = None
    market_index: int | None = Field(default=None, ge=0)
    oracle_price: int | None = Field(default=None, gt=0)
    last_funding_rate: int | None = None
    last_funding_rate_long: int | None = None
    last_funding_rate_short: int | None = None
    last24h_avg_funding_rate: int | None = None
    last_funding_rate_ts: int | None = Field(default=None, ge=0)
    last_funding_oracle_twap: int | None = Field(default=None, ge=0)
    last_oracle_price_twap: int | None = Field(default=None, ge=0)
    last_mark_price_twap: int | None = Field(default=None, ge=0)
    funding_period: int | None = Field(default=None, gt=0)
    base_asset_amount_long: int | None = Field(default=None, ge=0)
    base_asset_amount_short: int | None = Field(default=None, le=0)
    status: StatusName | None = None

    @model_validator(mode="after")
    def _names_one_market(self) -> MarketPatch:
        if (self.symbol is None) == (self.market_index is None):
            raise ValueError("name the market by exactly one of 'symbol' or 'market_index'")
        return self


@dataclass(slots=True)
class PerpView:
    """What localnet currently serves for one perp market."""

    spec: PerpSpec
    account: Any  # the anchorpy PerpMarket object, mutated in place
    oracle_price: int
    address: Pubkey

    def to_json(self) -> dict[str, Any]:
        amm = self.account.amm
        return {
            "market_index": self.spec.market_index,
            "symbol": self.spec.symbol,
            "address": str(self.address),
            "oracle": str(self.spec.oracle),
            "oracle_source": str(self.spec.oracle_source),
            "oracle_price": self.oracle_price,
            "status": status_name(self.account.status),
            "last_funding_rate": amm.last_funding_rate,
            "last_funding_rate_long": amm.last_funding_rate_long,
            "last_funding_rate_short": amm.last_funding_rate_short,
            "last24h_avg_funding_rate": amm.last24h_avg_funding_rate,
            "last_funding_rate_ts": amm.last_funding_rate_ts,
            "last_funding_oracle_twap": amm.last_funding_oracle_twap,
            "last_oracle_price_twap": amm.historical_oracle_data.last_oracle_price_twap,
            "last_mark_price_twap": amm.last_mark_price_twap,
            "funding_period": amm.funding_period,
            "base_asset_amount_long": amm.base_asset_amount_long,
            "base_asset_amount_short": amm.base_asset_amount_short,
        }


class DriftMarkets:
    """The Drift program's accounts for one preset, written into a ledger."""

    def __init__(self, ledger: Ledger, preset: Preset, *, now: int | None = None) -> None:
        self._ledger = ledger
        self.preset = preset
        self._perps: dict[int, PerpView] = {}
        self._by_symbol: dict[str, int] = {}
        # One oracle account can serve several markets at different scales (BONK spot
        # and 1MBONK-PERP; PUMP-PERP and 1KPUMP-PERP). It is encoded for the finest
        # of them, and every market reads its own price from the same bytes.
        self._canonical: dict[str, tuple[OracleSource, int]] = {}
        self._oracle_users: dict[str, list[PerpView]] = {}
        specs: tuple[PerpSpec | SpotSpec, ...] = (*preset.perps, *preset.spots)
        for m in specs:
            key = str(m.oracle)
            known = self._canonical.get(key)
            if known is None or multiplier(m.oracle_source) > multiplier(known[0]):
                self._canonical[key] = (m.oracle_source, m.market_index)
        ts = int(time.time()) if now is None else now
        self._write_state()
        written: set[str] = set()
        for perp in preset.perps:
            view = self._new_perp(perp, ts)
            self._perps[perp.market_index] = view
            self._by_symbol[perp.symbol] = perp.market_index
            self._oracle_users.setdefault(str(perp.oracle), []).append(view)
        for view in self.perps:
            if str(view.spec.oracle) not in written:
                self.set_oracle_price(view.spec.market_index, view.spec.price, ts=ts)
                written.add(str(view.spec.oracle))
            self._write_perp(view)
        for spot in preset.spots:
            self._write_spot(
                spot.market_index,
                spot.symbol,
                spot.oracle,
                spot.oracle_source,
                spot.mint,
                spot.decimals,
            )
            if str(spot.oracle) not in written:
                scale = multiplier(self._canonical[str(spot.oracle)][0])
                self._write_oracle(spot.oracle, spot.price * scale, ts)
                written.add(str(spot.oracle))

    # -- reading -----------------------------------------------------------------
    @property
    def perps(self) -> list[PerpView]:
        return [self._perps[i] for i in sorted(self._perps)]

    def perp(self, market: str | int) -> PerpView:
        """A perp market by symbol (case-insensitive) or index; AdminError if unknown."""
        index = market if isinstance(market, int) else self._by_symbol.get(market.upper())
        if index is None or index not in self._perps:
            raise AdminError(f"unknown perp market {market!r}")
        return self._perps[index]

    # -- writing -----------------------------------------------------------------
    def _write_oracle(self, oracle: Pubkey, canonical_price: int, ts: int) -> bytes:
        source, market_index = self._canonical[str(oracle)]
        account = encode_oracle(
            source, canonical_price, slot=self._ledger.slot, ts=ts, market_index=market_index
        )
        self._ledger.set_account(oracle, account.data, account.owner)
        return account.data

    def set_oracle_price(self, market: str | int, price: int, *, ts: int | None = None) -> None:
        """Move a perp market's oracle to `price` (1e6); subscribers are notified.

        Markets that share the oracle at another scale move with it.
        """
        view = self.perp(market)
        key = str(view.spec.oracle)
        scale = multiplier(self._canonical[key][0]) // multiplier(view.spec.oracle_source)
        data = self._write_oracle(
            view.spec.oracle, price * scale, int(time.time()) if ts is None else ts
        )
        for user in self._oracle_users[key]:
            user.oracle_price = oracle_price(data, user.spec.oracle_source)
            user.account.amm.historical_oracle_data.last_oracle_price = user.oracle_price

    def apply(self, patch: MarketPatch) -> PerpView:
        """Apply an admin patch; the perp account is rewritten once, oracle if moved."""
        view = self.perp(patch.symbol if patch.symbol is not None else patch.market_index or 0)
        fields = patch.model_dump(exclude_none=True, exclude={"symbol", "market_index"})
        if "last_funding_rate" in fields:
            fields.setdefault("last_funding_rate_long", fields["last_funding_rate"])
            fields.setdefault("last_funding_rate_short", fields["last_funding_rate"])
        if (price := fields.pop("oracle_price", None)) is not None:
            self.set_oracle_price(view.spec.market_index, price)
        self.update_perp(view, **fields)
        return view

    def update_perp(self, view: PerpView, **fields: Any) -> None:
        """Set AMM/market fields by name and rewrite the account."""
        amm = view.account.amm
        for name, value in fields.items():
            if name == "status":
                view.account.status = STATUSES[value]
            elif name == "last_oracle_price_twap":
                amm.historical_oracle_data.last_oracle_price_twap = value
            else:
                setattr(amm, name, value)
        self._write_perp(view)

    # -- building ------------------------------------------------------------------
    def _write_state(self) -> None:
        s = codec.template("State")
        s.number_of_markets = len(self.preset.perps)
        s.number_of_spot_markets = len(self.preset.spots)
        s.signer = Pubkey.new_unique()
        s.min_perp_auction_duration = 10
        s.default_spot_auction_duration = 10
        self._ledger.set_account(STATE_ADDRESS, codec.build("State", s), DRIFT_PROGRAM_ID)

    def _write_spot(
        self,
        index: int,
        symbol: str,
        oracle: Pubkey,
        source: OracleSource,
        mint: Pubkey,
        decimals: int,
    ) -> None:
        m = codec.template("SpotMarket")
        m.pubkey = get_spot_market_public_key(DRIFT_PROGRAM_ID, index)
        m.market_index = index
        m.name = encode_name(symbol)
        m.oracle = oracle
        m.oracle_source = source
        m.mint = mint
        m.decimals = decimals
        m.status = MarketStatus.Active()
        m.cumulative_deposit_interest = 10**10
        m.cumulative_borrow_interest = 10**10
        self._ledger.set_account(m.pubkey, codec.build("SpotMarket", m), DRIFT_PROGRAM_ID)

    def _new_perp(self, spec: PerpSpec, ts: int) -> PerpView:
        address = get_perp_market_public_key(DRIFT_PROGRAM_ID, spec.market_index)
        m = codec.template("PerpMarket")
        m.pubkey = address
        m.market_index = spec.market_index
        m.name = encode_name(spec.symbol)
        m.status = MarketStatus.Active()
        m.contract_type = ContractType.Prediction() if spec.prediction else ContractType.Perpetual()
        m.contract_tier = ContractTier.A()
        m.margin_ratio_initial = 1000
        m.margin_ratio_maintenance = 500
        m.number_of_users = 1000
        a = m.amm
        a.oracle = spec.oracle
        a.oracle_source = spec.oracle_source
        a.base_asset_reserve = a.quote_asset_reserve = a.sqrt_k = _RESERVE
        a.terminal_quote_asset_reserve = _RESERVE
        a.min_base_asset_reserve, a.max_base_asset_reserve = _RESERVE // 2, _RESERVE * 2
        a.peg_multiplier = spec.price  # PEG_PRECISION == PRICE_PRECISION: mark == oracle
        a.base_spread, a.max_spread = 1_000, 20_000
        a.long_spread = a.short_spread = 500
        a.last_funding_rate = a.last_funding_rate_long = spec.last_funding_rate
        a.last_funding_rate_short = a.last24h_avg_funding_rate = spec.last_funding_rate
        a.last_funding_rate_ts = ts - ts % 3600
        a.funding_period = 3600
        a.cumulative_funding_rate_long = a.cumulative_funding_rate_short = 0
        a.last_funding_oracle_twap = spec.price
        a.last_mark_price_twap = a.last_mark_price_twap5min = spec.price
        a.last_bid_price_twap = spec.price - max(spec.price // 2000, 1)
        a.last_ask_price_twap = spec.price + max(spec.price // 2000, 1)
        a.last_mark_price_twap_ts = ts
        h = a.historical_oracle_data
        h.last_oracle_price = h.last_oracle_price_twap = h.last_oracle_price_twap5min = spec.price
        h.last_oracle_conf = max(spec.price // 10_000, 1)
        h.last_oracle_delay = 1
        h.last_oracle_price_twap_ts = ts
        a.last_oracle_valid = True
        a.order_step_size, a.order_tick_size, a.min_order_size = 10**6, 100, 10**6
        a.base_asset_amount_long = 5 * 10**13
        a.base_asset_amount_short = -4 * 10**13
        a.base_asset_amount_with_amm = 10**13
        a.volume24h = 10**12
        return PerpView(spec=spec, account=m, oracle_price=spec.price, address=address)

    def _write_perp(self, view: PerpView) -> None:
        view.account.amm.last_update_slot = self._ledger.slot
        data = codec.build("PerpMarket", view.account)
        self._ledger.set_account(view.address, data, DRIFT_PROGRAM_ID)
