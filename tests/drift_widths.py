"""On-chain integer widths and enum variants from driftpy's IDL, and integer strategies.

`WIDTHS[cls][field]` is the IDL integer type (`u8` ... `i128`) of each integer field of
the `streamer.math.types` dataclasses; the enum variant lists are the IDL's (as driftpy
spells them). `full_width` draws any value of a width, `magnitude` spreads integers
over orders of magnitude, `extreme` swaps some fields for full-width values.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import driftpy
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

__all__ = [
    "CONTRACT_TIERS",
    "CONTRACT_TYPES",
    "MARKET_STATUSES",
    "ORACLE_SOURCES",
    "WIDTHS",
    "bounds",
    "extreme",
    "full_width",
    "magnitude",
    "near",
]

_IDL = json.loads((Path(driftpy.__path__[0]) / "idl" / "drift.json").read_text())
_DEFS = {d["name"]: d["type"] for d in [*_IDL["types"], *_IDL["accounts"]]}


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def _idl_fields(struct: str) -> dict[str, Any]:
    return {_norm(f["name"]): f["type"] for f in _DEFS[struct]["fields"]}


def _variants(enum: str) -> list[str]:
    return [v["name"] for v in _DEFS[enum]["variants"]]


def _widths(cls: type, struct: str, renames: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Our integer fields -> their IDL integer type (`u64`, `i128`, ...)."""
    out: dict[str, str] = {}
    for f in fields(cls):
        owner, name = renames.get(f.name, (struct, f.name))
        idl_type = _idl_fields(owner).get(_norm(name))
        if isinstance(idl_type, str) and idl_type[0] in "ui" and idl_type[1:].isdigit():
            out[f.name] = idl_type
    return out


# Our OracleGuardRails is flat; the State nests it in two structs.
_RAILS = {
    name: (struct, name)
    for struct, names in {
        "PriceDivergenceGuardRails": [
            "mark_oracle_percent_divergence",
            "oracle_twap5min_percent_divergence",
        ],
        "ValidityGuardRails": [
            "slots_before_stale_for_amm",
            "slots_before_stale_for_margin",
            "confidence_interval_max_size",
            "too_volatile_ratio",
        ],
    }.items()
    for name in names
}
WIDTHS: dict[type, dict[str, str]] = {
    Amm: _widths(Amm, "AMM", {}),
    HistoricalOracleData: _widths(HistoricalOracleData, "HistoricalOracleData", {}),
    PerpMarket: _widths(PerpMarket, "PerpMarket", {}),
    SpotMarket: _widths(
        SpotMarket, "SpotMarket", {"insurance_fund_total_factor": ("InsuranceFund", "total_factor")}
    ),
    OracleGuardRails: _widths(OracleGuardRails, "OracleGuardRails", _RAILS),
    # Not an account: the widths of the SDK oracle clients' sources (Pyth's i64 price,
    # u64 conf and slot; Pyth Lazer's u64 publish time as the sequence id).
    OraclePriceData: {
        "price": "i64",
        "slot": "u64",
        "confidence": "u64",
        "twap": "i64",
        "twap_confidence": "u64",
        "max_price": "i64",
        "sequence_id": "u64",
    },
}
ORACLE_SOURCES = _variants("OracleSource")
CONTRACT_TIERS = _variants("ContractTier")
MARKET_STATUSES = _variants("MarketStatus")
CONTRACT_TYPES = _variants("ContractType")
MM_CASES = ("absent", "active", "stale", "divergent")


def bounds(width: str) -> tuple[int, int]:
    """The least and greatest value of an on-chain integer type (`u64`, `i128`, ...)."""
    bits = int(width[1:])
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if width[0] == "i" else (0, 2**bits - 1)


def full_width(width: str) -> st.SearchStrategy[int]:
    """Any value of an on-chain integer type, with its boundaries and 2**53 +- 1 favoured."""
    lo, hi = bounds(width)
    edges = [v for v in (lo, hi, 0, 1, -1, 2**53 - 1, 2**53 + 1, -(2**53) - 1) if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def magnitude(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers in [lo, hi] spread over their orders of magnitude (lo >= 0)."""
    return st.integers(len(str(max(lo, 1))) - 1, len(str(hi)) - 1).flatmap(
        lambda d: st.integers(max(lo, 10**d if d else 0), min(hi, 10 ** (d + 1) - 1))
    )


def near(draw: DrawFn, value: int, bps: int) -> int:
    """`value` moved by up to `bps` basis points either way."""
    return value + value * draw(st.integers(-bps, bps)) // 10_000


def extreme(draw: DrawFn, values: dict[str, Any], widths: dict[str, str]) -> dict[str, Any]:
    """Replace each integer field, with probability 0.3, by any value of its width."""
    for name, width in widths.items():
        if name in values and draw(st.integers(0, 9)) < 3:
            values[name] = draw(full_width(width))
    return values
