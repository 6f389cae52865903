"""Base classes of the wire models: shared config and the common envelope fields.

SchemaModel            config only (frozen, unknown fields ignored, finite floats)
 └── Envelope          v (schema version), network, ts
      └── WireModel    + slot
           └── MarketModel  + market_index, symbol, market_slot, oracle_slot
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from schemas.models.fields import U16, U64, NonNegFloat, Symbol
from schemas.subjects import Network

__all__ = ["SCHEMA_VERSION", "Envelope", "MarketModel", "SchemaModel", "WireModel"]

SCHEMA_VERSION = 1
"""Version written in `v` by this code; readers accept any version and ignore unknown fields."""


class SchemaModel(BaseModel):
    """Every wire model: immutable, tolerant of unknown fields, finite floats only. Its
    validator is built at its first use, not at import: an engine pays for the models it
    reads (4 MB less at import than all of them)."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False, defer_build=True)


class Envelope(SchemaModel):
    """A top-level message: schema version, network and when it was observed."""

    v: Annotated[int, Strict(), Field(ge=1)] = SCHEMA_VERSION
    network: Network
    ts: NonNegFloat
    """Unix seconds when the value was observed."""


class WireModel(Envelope):
    """A message derived from chain data: adds the Solana slot it was read at."""

    slot: U64


class MarketModel(WireModel):
    """A per-market message: adds Drift's market index and symbol, and the slots of the
    account versions its values were computed from (`slot` is the newest slot seen)."""

    market_index: U16
    symbol: Symbol
    market_slot: U64 | None = None
    """Slot of the market account version the values were computed from."""
    oracle_slot: U64 | None = None
    """Slot of the oracle account version the values were computed from (None: no oracle)."""
