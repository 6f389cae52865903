"""Drift's markets in the ledger: State, perp and spot markets, and their oracles.

`DriftMarkets` keeps one mutable anchorpy object per market, so a change to a field
re-encodes that account and the ledger notifies subscribers. It writes a preset's
accounts, or adopts a snapshot's as they are (`DriftMarkets.adopt`, `localnet.adopt`).
Preset perp and spot accounts are shaped like mainnet's (see `localnet.perps`,
`localnet.spots`); values are what
driftpy and the SDK read back exactly: oracle price (1e6), funding fields (1e9),
TWAPs (1e6). Each oracle write advances that oracle's publish time (its sequence id).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from driftpy.addresses import get_drift_client_signer_public_key, get_state_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from solders.pubkey import Pubkey

from localnet import codec
from localnet.errors import AdminError
from localnet.ledger import Ledger
from localnet.mm_oracle import DEFAULT_MM_ORACLE_SHARE, MmOracle, OracleReading
from localnet.oracles import encode_oracle, multiplier, oracle_price, sequence_id
from localnet.patches import MarketPatch, SpotPatch, set_perp_fields, set_spot_fields
from localnet.perp_view import PerpView
from localnet.perps import new_perp_account, perp_profile
from localnet.presets import PerpSpec, Preset, SpotSpec
from localnet.spots import SpotView, new_spot_account
from localnet.variants import STATUSES, status_name

__all__ = ["STATE_ADDRESS", "STATUSES", "DriftMarkets", "MarketPatch", "PerpView", "status_name"]

STATE_ADDRESS = get_state_public_key(DRIFT_PROGRAM_ID)
_PERCENT = 10**6  # PERCENTAGE_PRECISION


class DriftMarkets:
    """The Drift program's accounts for one preset, written into a ledger (or a
    snapshot's, adopted: see `adopt`).

    `now` fixes the timestamps of the first accounts (default: the clock), so the same
    preset and `now` give the same bytes. `mm_oracle_share` is about the share of
    perp markets whose market makers post an MM oracle price.
    """

    def __init__(
        self,
        ledger: Ledger,
        preset: Preset,
        *,
        now: int | None = None,
        mm_oracle_share: float = DEFAULT_MM_ORACLE_SHARE,
    ) -> None:
        self._attach(ledger, preset, {})
        ts = int(time.time()) if now is None else now
        self._write_state()
        for spec in preset.perps:
            profile = perp_profile(spec, mm_oracle_share)
            account = new_perp_account(spec, profile, ts=ts)
            self._add(PerpView(spec, profile, account, spec.price, account.pubkey))
        for s in preset.spots:
            spot = new_spot_account(s, ts=ts)
            self._add(SpotView(s, spot, s.price, spot.pubkey))
        for key, users in self._users.items():
            first = users[0]
            scale = multiplier(self._canonical[key][0]) // multiplier(first.spec.oracle_source)
            self._set_oracle(key, first.spec.price * scale, ts)
        for view in self.perps:
            self._post_mm(view, view.profile.mm.quote(self.oracle_reading(view)))
            self._write_perp(view)
        for spot_view in self.spots:
            self._write_spot(spot_view)

    @classmethod
    def adopt(
        cls,
        ledger: Ledger,
        name: str,
        perps: Sequence[PerpView],
        spots: Sequence[SpotView],
        oracle_frames: Mapping[str, tuple[str, int]],
    ) -> DriftMarkets:
        """Markets over accounts already in the ledger (a snapshot's); nothing is written.

        Each view holds its account decoded from the ledger's bytes. `oracle_frames`
        gives each oracle's owner and size as found: an oracle write keeps both (the
        data zero-padded to that size), so only the price fields change.
        """
        markets = cls.__new__(cls)
        specs = Preset(name, tuple(v.spec for v in perps), tuple(v.spec for v in spots))
        markets._attach(ledger, specs, oracle_frames)
        views: tuple[PerpView | SpotView, ...] = (*perps, *spots)
        for view in views:
            markets._add(view)
        for key in markets._users:
            markets._published[key] = (ledger.slot, 0)
        return markets

    def _attach(
        self, ledger: Ledger, preset: Preset, oracle_frames: Mapping[str, tuple[str, int]]
    ) -> None:
        self._ledger = ledger
        self.preset = preset
        self._perps: dict[int, PerpView] = {}
        self._by_symbol: dict[str, int] = {}
        self._spots: dict[int, SpotView] = {}
        self._spot_by_symbol: dict[str, int] = {}
        # One oracle account can serve several markets at different scales (BONK spot
        # and 1MBONK-PERP; PUMP-PERP and 1KPUMP-PERP). It is encoded for the finest
        # of them, and every market reads its own price from the same bytes.
        self._canonical: dict[str, tuple[Any, int]] = {}
        self._users: dict[str, list[PerpView | SpotView]] = {}
        self._published: dict[str, tuple[int, int]] = {}  # oracle -> (slot, publish time us)
        self._frames = dict(oracle_frames)  # oracle -> (owner, size) to keep
        specs: tuple[PerpSpec | SpotSpec, ...] = (*preset.perps, *preset.spots)
        for m in specs:
            known = self._canonical.get(str(m.oracle))
            if known is None or multiplier(m.oracle_source) > multiplier(known[0]):
                self._canonical[str(m.oracle)] = (m.oracle_source, m.market_index)

    def _add(self, view: PerpView | SpotView) -> None:
        index, symbol = view.spec.market_index, view.spec.symbol.upper()
        if isinstance(view, PerpView):
            self._perps[index] = view
            self._by_symbol[symbol] = index
        else:
            self._spots[index] = view
            self._spot_by_symbol[symbol] = index
        self._users.setdefault(str(view.spec.oracle), []).append(view)

    # -- reading -----------------------------------------------------------------
    @property
    def perps(self) -> list[PerpView]:
        return [self._perps[i] for i in sorted(self._perps)]

    @property
    def spots(self) -> list[SpotView]:
        return [self._spots[i] for i in sorted(self._spots)]

    def perp(self, market: str | int) -> PerpView:
        """A perp market by symbol (case-insensitive) or index; AdminError if unknown."""
        index = market if isinstance(market, int) else self._by_symbol.get(market.upper())
        if index is None or index not in self._perps:
            raise AdminError(f"unknown perp market {market!r}")
        return self._perps[index]

    def spot(self, market: str | int) -> SpotView:
        """A spot market by symbol (case-insensitive) or index; AdminError if unknown."""
        index = market if isinstance(market, int) else self._spot_by_symbol.get(market.upper())
        if index is None or index not in self._spots:
            raise AdminError(f"unknown spot market {market!r}")
        return self._spots[index]

    def oracle_reading(self, view: PerpView | SpotView) -> OracleReading:
        """The market's oracle as the SDK reads it: price, slot, sequence id."""
        slot, publish_us = self._published[str(view.spec.oracle)]
        return OracleReading(
            view.oracle_price, slot, sequence_id(view.spec.oracle_source, publish_us)
        )

    # -- writing -----------------------------------------------------------------
    def _set_oracle(self, key: str, canonical_price: int, ts: float) -> None:
        source, market_index = self._canonical[key]
        last = self._published.get(key, (0, 0))[1]
        publish_us = max(last + 1, int(ts * 1_000_000))
        slot = self._ledger.slot
        account = encode_oracle(
            source,
            canonical_price,
            slot=slot,
            ts=int(ts),
            market_index=market_index,
            publish_us=publish_us,
        )
        data, owner = account.data, str(account.owner)
        if key in self._frames:
            owner, size = self._frames[key]
            data = data.ljust(size, b"\0")
        self._ledger.set_account(Pubkey.from_string(key), data, owner)
        self._published[key] = (slot, publish_us)
        for user in self._users[key]:
            user.oracle_price = oracle_price(account.data, user.spec.oracle_source)
            holder = user.account.amm if isinstance(user, PerpView) else user.account
            holder.historical_oracle_data.last_oracle_price = user.oracle_price

    def _move_oracle(self, view: PerpView | SpotView, price: int, ts: float | None) -> None:
        key = str(view.spec.oracle)
        scale = multiplier(self._canonical[key][0]) // multiplier(view.spec.oracle_source)
        self._set_oracle(key, price * scale, time.time() if ts is None else ts)

    def set_oracle_price(self, market: str | int, price: int, *, ts: float | None = None) -> None:
        """Move a perp market's oracle to `price` (1e6); subscribers are notified.

        Markets that share the oracle at another scale move with it. The market's MM
        oracle stays as it was (so it is now older than the oracle).
        """
        self._move_oracle(self.perp(market), price, ts)

    def set_spot_oracle_price(
        self, market: str | int, price: int, *, ts: float | None = None
    ) -> None:
        """Move a spot market's oracle to `price` (1e6), and every market sharing it."""
        self._move_oracle(self.spot(market), price, ts)

    def post_mm_oracle(self, view: PerpView, mm: MmOracle) -> None:
        """Set the market's MM oracle fields and rewrite the account."""
        self._post_mm(view, mm)
        self._write_perp(view)

    def apply(self, patch: MarketPatch) -> PerpView:
        """Apply an admin patch; the perp account is rewritten once, the oracle if moved.

        Nothing changes unless the whole patch applies (ValueError / EncodingError).
        """
        view = self.perp(patch.market)
        fields = patch.fields()
        if "last_funding_rate" in fields:
            fields.setdefault("last_funding_rate_long", fields["last_funding_rate"])
            fields.setdefault("last_funding_rate_short", fields["last_funding_rate"])
        price = fields.pop("oracle_price", None)
        trial = copy.deepcopy(view.account)
        set_perp_fields(trial, fields)
        codec.build("PerpMarket", trial)
        if price is not None:
            self.set_oracle_price(view.spec.market_index, price)
        self.update_perp(view, **fields)
        return view

    def apply_spot(self, patch: SpotPatch) -> SpotView:
        """Apply an admin spot patch; all or nothing, as `apply`."""
        view = self.spot(patch.market)
        fields = patch.fields()
        price = fields.pop("oracle_price", None)
        trial = copy.deepcopy(view.account)
        set_spot_fields(trial, fields)
        codec.build("SpotMarket", trial)
        if price is not None:
            self.set_spot_oracle_price(view.spec.market_index, price)
        self.update_spot(view, **fields)
        return view

    def update_perp(self, view: PerpView, **fields: Any) -> None:
        """Set perp market fields by name (see `set_perp_fields`) and rewrite the account."""
        set_perp_fields(view.account, fields)
        self._write_perp(view)

    def update_spot(self, view: SpotView, **fields: Any) -> None:
        """Set spot market fields by name and rewrite the account."""
        set_spot_fields(view.account, fields)
        self._write_spot(view)

    # -- building ------------------------------------------------------------------
    def _write_state(self) -> None:
        s = codec.template("State")
        s.number_of_markets = len(self.preset.perps)
        s.number_of_spot_markets = len(self.preset.spots)
        s.signer = get_drift_client_signer_public_key(DRIFT_PROGRAM_ID)
        s.min_perp_auction_duration = 10
        s.default_spot_auction_duration = 10
        # Mainnet's guard rails: the SDK reads the 5-minute divergence for MM oracles.
        rails = s.oracle_guard_rails
        rails.price_divergence.mark_oracle_percent_divergence = _PERCENT // 10
        rails.price_divergence.oracle_twap5min_percent_divergence = _PERCENT // 2
        rails.validity.slots_before_stale_for_amm = 10
        rails.validity.slots_before_stale_for_margin = 120
        rails.validity.confidence_interval_max_size = 20_000
        rails.validity.too_volatile_ratio = 5
        self._ledger.set_account(STATE_ADDRESS, codec.build("State", s), DRIFT_PROGRAM_ID)

    def _post_mm(self, view: PerpView, mm: MmOracle) -> None:
        amm = view.account.amm
        amm.mm_oracle_price, amm.mm_oracle_slot = mm.price, mm.slot
        amm.mm_oracle_sequence_id = mm.sequence_id

    def _write_perp(self, view: PerpView) -> None:
        view.account.amm.last_update_slot = self._ledger.slot
        data = codec.build("PerpMarket", view.account)
        self._ledger.set_account(view.address, data, DRIFT_PROGRAM_ID)

    def _write_spot(self, view: SpotView) -> None:
        data = codec.build("SpotMarket", view.account)
        self._ledger.set_account(view.address, data, DRIFT_PROGRAM_ID)
