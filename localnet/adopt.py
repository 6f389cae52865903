"""`DriftMarkets` over a snapshot's markets, so the simulation and /admin/ work on them.

What a preset draws for a market is read from its decoded account instead: the
oracle price (as driftpy reads the oracle account), the contract tier, the mark TWAP's
premium over the oracle TWAP, the AMM's reserve price over the oracle, the open
interest's style (empty, balanced, imbalanced), a fee pool in deficit, and an MM
oracle that is posted (`mm_oracle_slot != 0`: it re-quotes as a fresh one, at its
current offset) or not. How often its AMM trades is drawn from its symbol, as in the
presets. Nothing is written when adopting: the accounts stay as captured until the
simulation or /admin/ changes them.

A market is left out (with a warning) when its oracle is missing or unreadable (the
loader warned already), when localnet cannot encode its oracle source, or when one
trial step of the simulation fails on a copy of it (zero reserves, say).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
import time

from solders.pubkey import Pubkey

from localnet.amm import reserve_price
from localnet.draws import Draws
from localnet.dynamics import AMM_EVENTS, accrue_spot, amm_event, funding_update
from localnet.errors import LocalnetError
from localnet.ledger import Ledger
from localnet.markets import DriftMarkets
from localnet.mm_oracle import mm_profile
from localnet.oracles import encode_oracle, source_name
from localnet.perp_view import PerpView
from localnet.perps import PerpProfile
from localnet.presets import PerpSpec, SpotSpec
from localnet.snapshot import Snapshot, SnapshotMarket
from localnet.spots import SpotView
from localnet.variants import tier_name

__all__ = ["adopt_markets"]

log = logging.getLogger("drift_stream.localnet")
_SIMULATION_FAILS = (ArithmeticError, ValueError, TypeError, LocalnetError)


def adopt_markets(ledger: Ledger, snapshot: Snapshot) -> tuple[DriftMarkets, list[str]]:
    """The snapshot's markets (those with a readable oracle) as `DriftMarkets` over the
    ledger that holds its accounts, and the warnings for markets left out."""
    warnings: list[str] = []
    perps: list[PerpView] = []
    spots: list[SpotView] = []
    for market in (*snapshot.perps, *snapshot.spots):
        if market.oracle_price is None:
            continue  # load_snapshot has warned
        view = _perp_view(market) if market.kind == "perp" else _spot_view(market)
        problem = _trial(view)
        if problem is not None:
            warnings.append(f"{market.label}: left out of the simulation: {problem}")
        elif isinstance(view, PerpView):
            perps.append(view)
        else:
            spots.append(view)
    frames = {}
    for oracle_key in {str(v.spec.oracle) for v in perps} | {str(v.spec.oracle) for v in spots}:
        oracle = snapshot.accounts[oracle_key]
        frames[oracle_key] = (oracle.owner, len(oracle.data))
    for warning in warnings:
        log.warning("snapshot %s: %s", snapshot.folder, warning)
    return DriftMarkets.adopt(ledger, "snapshot", perps, spots, frames), warnings


def _ratio(value: int, base: int, limit: float) -> float:
    """value / base - 1, within ±limit (0 when base is not positive)."""
    if base <= 0:
        return 0.0
    return min(max(value / base - 1.0, -limit), limit)


def _perp_view(market: SnapshotMarket) -> PerpView:
    account, price = market.account, market.oracle_price or 1
    amm = account.amm
    spec = PerpSpec(
        market_index=market.market_index,
        symbol=market.symbol,
        oracle=Pubkey.from_string(market.oracle),
        oracle_source=market.oracle_source,
        price=price,
        last_funding_rate=amm.last_funding_rate,
        # anchorpy decodes into its own classes, not driftpy.types': compare by name
        prediction=type(account.contract_type).__name__ == "Prediction",
    )
    lazer = source_name(market.oracle_source).startswith("PythLazer")
    drawn = mm_profile(market.symbol, 1.0, sequence_unit_us=lazer)
    posted = amm.mm_oracle_slot != 0
    mm = dataclasses.replace(
        drawn,
        mode="fresh" if posted else "inactive",
        offset=_ratio(amm.mm_oracle_price, price, 0.005) if posted else drawn.offset,
    )
    long, short = amm.base_asset_amount_long, amm.base_asset_amount_short
    oi_style = "empty" if long == short == 0 else "balanced" if long == -short else "imbalanced"
    reserve = (
        reserve_price(amm.base_asset_reserve, amm.quote_asset_reserve, amm.peg_multiplier)
        if amm.base_asset_reserve > 0
        else price
    )
    profile = PerpProfile(
        tier=tier_name(account.contract_tier),
        mm=mm,
        mark_premium=_ratio(
            amm.last_mark_price_twap, amm.historical_oracle_data.last_oracle_price_twap, 0.01
        ),
        amm_premium=_ratio(reserve, price, 0.003),
        activity=Draws(market.symbol).uniform("activity", 0.1, 0.8),
        oi_style=oi_style,
        in_deficit=amm.total_fee_minus_distributions < 0,
    )
    return PerpView(spec, profile, account, price, Pubkey.from_string(market.address))


def _spot_view(market: SnapshotMarket) -> SpotView:
    account, price = market.account, market.oracle_price or 1
    spec = SpotSpec(
        market_index=market.market_index,
        symbol=market.symbol,
        oracle=Pubkey.from_string(market.oracle),
        oracle_source=market.oracle_source,
        mint=account.mint,
        decimals=account.decimals,
        price=price,
    )
    return SpotView(spec, account, price, Pubkey.from_string(market.address))


def _trial(view: PerpView | SpotView) -> str | None:
    """Why the simulation could not step this market (None: it can), tried on a copy."""
    now, rng = int(time.time()), random.Random(0)
    try:
        encode_oracle(view.spec.oracle_source, view.oracle_price, slot=0, ts=now)
        trial = copy.deepcopy(view.account)
        if isinstance(view, SpotView):
            accrue_spot(trial, now, rng)
            return None
        for kind in AMM_EVENTS:
            amm_event(
                kind,
                trial.amm,
                view.oracle_price,
                mark_premium=view.profile.mark_premium,
                amm_premium=view.profile.amm_premium,
                oi_style=view.profile.oi_style,
                now=now,
                rng=rng,
            )
        funding_update(trial, view.oracle_price, view.oracle_price, now, rng)
    except _SIMULATION_FAILS as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None
