"""Market presets: which Drift markets localnet serves, with realistic starting values.

`small` has SOL-PERP, BTC-PERP, ETH-PERP and USDC spot; `mainnet` has every perp and
spot market in driftpy's mainnet configs, with their real indexes, oracles and oracle
sources. Prices are rounded late-2025 levels; markets without a listed price get a
stable pseudo-random one (so every run of a preset starts the same).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Literal

from driftpy.constants.perp_markets import mainnet_perp_market_configs
from driftpy.constants.spot_markets import mainnet_spot_market_configs
from driftpy.types import OracleSource
from solders.pubkey import Pubkey

__all__ = ["PRESETS", "SYNTHETIC_MAX", "PerpSpec", "Preset", "PresetName", "SpotSpec", "preset"]

PresetName = Literal["small", "mainnet"]
PRICE_PRECISION = 10**6

# USD per unit of the base asset (for 1K/1M markets: per 1K/1M units).
_USD: dict[str, float] = {
    "SOL": 150.0,
    "BTC": 97_500.0,
    "ETH": 3_400.0,
    "APT": 5.2,
    "1MBONK": 20.0,
    "POL": 0.22,
    "ARB": 0.32,
    "DOGE": 0.17,
    "BNB": 900.0,
    "SUI": 2.4,
    "1MPEPE": 6.5,
    "OP": 0.42,
    "RENDER": 2.1,
    "XRP": 2.2,
    "HNT": 2.6,
    "INJ": 7.1,
    "LINK": 13.4,
    "RLB": 0.06,
    "PYTH": 0.1,
    "TIA": 0.7,
    "JTO": 0.9,
    "SEI": 0.16,
    "AVAX": 14.2,
    "WIF": 0.41,
    "JUP": 0.31,
    "DYM": 0.11,
    "TAO": 310.0,
    "W": 0.05,
    "KMNO": 0.05,
    "TNSR": 0.12,
    "DRIFT": 0.3,
    "CLOUD": 0.09,
    "IO": 0.28,
    "POPCAT": 0.14,
    "1KWEN": 0.03,
    "TON": 1.6,
    "HYPE": 34.0,
    "BONK": 0.00002,
    "PUMP": 0.0035,
    "1KPUMP": 3.5,
    "LTC": 88.0,
    "TRUMP": 6.3,
    "ADA": 0.45,
    "PAXG": 4_050.0,
    "ZEC": 520.0,
    "USDC": 1.0,
    "USDT": 1.0,
    "PYUSD": 1.0,
    "USDS": 1.0,
    "AUSD": 1.0,
    "USD1": 1.0,
    "USDE": 1.0,
    "EURC": 1.16,
    "MSOL": 190.0,
    "JITOSOL": 185.0,
    "BSOL": 180.0,
    "WBTC": 97_500.0,
    "CBBTC": 97_500.0,
    "WETH": 3_400.0,
    "JLP": 4.5,
}


@dataclass(frozen=True, slots=True)
class PerpSpec:
    """A perp market as localnet first serves it."""

    market_index: int
    symbol: str
    oracle: Pubkey
    oracle_source: OracleSource
    price: int  # PRICE_PRECISION
    last_funding_rate: int  # FUNDING_RATE_PRECISION (1e9), quote per base per period
    prediction: bool


@dataclass(frozen=True, slots=True)
class SpotSpec:
    """A spot market as localnet first serves it."""

    market_index: int
    symbol: str
    oracle: Pubkey
    oracle_source: OracleSource
    mint: Pubkey
    decimals: int
    price: int  # PRICE_PRECISION


@dataclass(frozen=True, slots=True)
class Preset:
    """A named set of markets."""

    name: str
    perps: tuple[PerpSpec, ...]
    spots: tuple[SpotSpec, ...]


def _unit(symbol: str) -> float:
    """Stable pseudo-random number in [0, 1) from a symbol (no global RNG state)."""
    return (zlib.crc32(symbol.encode()) % 10_000) / 10_000


def _usd(base: str, prediction: bool) -> float:
    if prediction:
        return round(0.05 + 0.9 * _unit(base), 3)
    key = base.upper()
    return _USD.get(key, round(0.05 + 49.95 * _unit(key) ** 3, 4))


def _perp(cfg: object) -> PerpSpec:
    symbol: str = cfg.symbol  # type: ignore[attr-defined]
    prediction = symbol.endswith("-BET") or "-WIN-" in symbol
    base = symbol.removesuffix("-PERP")
    price = max(round(_usd(base, prediction) * PRICE_PRECISION), 1)
    # An hourly rate between -0.005 % and +0.012 %, as quote per base (1e9) at `price`.
    hourly_fraction = (-0.5 + 1.7 * _unit(symbol + "/funding")) * 1e-4
    return PerpSpec(
        market_index=cfg.market_index,  # type: ignore[attr-defined]
        symbol=symbol,
        oracle=cfg.oracle,  # type: ignore[attr-defined]
        oracle_source=cfg.oracle_source,  # type: ignore[attr-defined]
        price=price,
        last_funding_rate=round(hourly_fraction * price * 1_000),
        prediction=prediction,
    )


def _spot(cfg: object) -> SpotSpec:
    symbol: str = cfg.symbol  # type: ignore[attr-defined]
    base = symbol.split("-")[0]
    return SpotSpec(
        market_index=cfg.market_index,  # type: ignore[attr-defined]
        symbol=symbol,
        oracle=cfg.oracle,  # type: ignore[attr-defined]
        oracle_source=cfg.oracle_source,  # type: ignore[attr-defined]
        mint=cfg.mint,  # type: ignore[attr-defined]
        decimals=cfg.decimals,  # type: ignore[attr-defined]
        price=max(round(_usd(base, False) * PRICE_PRECISION), 1),
    )


def _build(name: str, synthetic: int = 0) -> Preset:
    perps = tuple(_perp(c) for c in mainnet_perp_market_configs)
    spots = tuple(_spot(c) for c in mainnet_spot_market_configs)
    if name == "small":
        perps = tuple(p for p in perps if p.symbol in ("SOL-PERP", "BTC-PERP", "ETH-PERP"))
        spots = spots[:1]
    if synthetic:
        first = max(p.market_index for p in perps) + 1
        made_up = max(0, synthetic - len(perps))
        perps = perps[:synthetic] + tuple(_perp(_synthetic(first + k)) for k in range(made_up))
    return Preset(name=name, perps=perps, spots=spots)


@dataclass(frozen=True, slots=True)
class _SyntheticConfig:
    symbol: str
    market_index: int
    oracle: Pubkey
    oracle_source: object = field(default_factory=OracleSource.PythLazer)


def _synthetic(index: int) -> _SyntheticConfig:
    """A made-up perp market at `index`, with an oracle account of its own (a stable
    address: the SHA-256 of its name)."""
    digest = hashlib.sha256(f"drift-stream synthetic oracle {index}".encode()).digest()
    return _SyntheticConfig(f"SYN{index}-PERP", index, Pubkey.from_bytes(digest))


PRESETS: tuple[PresetName, ...] = ("small", "mainnet")
SYNTHETIC_MAX = 1000  # perp markets in the largest `synthetic-N`


def preset(name: str) -> Preset:
    """The named preset: `small`, `mainnet`, or `synthetic-N` (N perp markets, 1 to
    1000: mainnet's first, then made-up ones `SYN<index>-PERP`, for load tests; spot
    markets as mainnet's). ValueError for any other name."""
    if name in PRESETS:
        return _build(name)
    count = name.removeprefix("synthetic-")
    if count != name and count.isdigit() and 1 <= int(count) <= SYNTHETIC_MAX:
        return _build(name, int(count))
    raise ValueError(
        f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}, "
        f"or synthetic-N (N perp markets, 1 to {SYNTHETIC_MAX})"
    )
