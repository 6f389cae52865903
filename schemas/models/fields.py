"""Field types shared by the wire models: integer widths as on chain, finite floats, names.

Numbers are strict (no "5" -> 5, no true -> 1, no 5.0 -> 5 for ints): producers are ours and a
type slip should fail loudly. Floats accept JSON integers. Non-finite floats are rejected by
the models' config (JSON cannot carry them).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict

from schemas.subjects import validate_consumer_id, validate_spot_symbol, validate_symbol

__all__ = [
    "I64",
    "U8",
    "U16",
    "U64",
    "U128",
    "ConsumerId",
    "Float",
    "NonNegFloat",
    "SpotSymbol",
    "Symbol",
]

I64 = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
"""A signed 64-bit on-chain integer (raw rates, raw prices, unix timestamps)."""

U64 = Annotated[int, Strict(), Field(ge=0, le=2**64 - 1)]
"""An unsigned 64-bit integer (slots, KV revisions, counters)."""

U128 = Annotated[int, Strict(), Field(ge=0, le=2**128 - 1)]
"""An unsigned 128-bit integer (spot token amounts and balances)."""

U16 = Annotated[int, Strict(), Field(ge=0, le=2**16 - 1)]
"""An unsigned 16-bit integer (Drift market indexes)."""

U8 = Annotated[int, Strict(), Field(ge=0, le=2**8 - 1)]
"""An unsigned 8-bit integer (a token mint's decimals)."""

Float = Annotated[float, Strict()]
"""A finite float."""

NonNegFloat = Annotated[float, Strict(), Field(ge=0)]
"""A finite float >= 0 (unix seconds, durations, open interest)."""

Symbol = Annotated[str, AfterValidator(validate_symbol)]
"""A Drift market symbol, normalised to upper case (see `validate_symbol`)."""

SpotSymbol = Annotated[str, AfterValidator(validate_spot_symbol)]
"""A Drift spot market symbol, case kept as on chain (see `validate_spot_symbol`)."""

ConsumerId = Annotated[str, AfterValidator(validate_consumer_id)]
"""A consumer id usable as a KV key token (see `validate_consumer_id`)."""
