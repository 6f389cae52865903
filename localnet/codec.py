"""Drift account encoding with driftpy's own IDL coder.

A Drift account is built the way the program lays it out: decode an all-zero buffer
behind the account's discriminator to get a complete anchorpy object, set the fields
that matter, and build it back. Sizes then match mainnet exactly (PerpMarket 1216,
SpotMarket 776, State 992 bytes).
"""

from __future__ import annotations

import copyreg
from pathlib import Path
from typing import Any

import driftpy
from anchorpy.coder.coder import Coder
from anchorpy.program.common import NamedInstruction
from anchorpy_core.idl import Idl
from construct import ConstructError
from solders.pubkey import Pubkey

from localnet.errors import EncodingError

__all__ = ["ACCOUNT_SIZES", "DRIFT_ACCOUNTS", "build", "decode", "template"]

# anchorpy's build goes through dataclasses.asdict(), which deep-copies every leaf;
# solders' Pubkey cannot be pickled, so teach copy how to rebuild one from its bytes.
copyreg.pickle(Pubkey, lambda p: (Pubkey.from_bytes, (bytes(p),)))

DRIFT_ACCOUNTS = Coder(
    Idl.from_json((Path(driftpy.__path__[0]) / "idl" / "drift.json").read_text())
).accounts

ACCOUNT_SIZES = {
    "State": 992,
    "PerpMarket": 1216,
    "SpotMarket": 776,
    "PythLazerOracle": 48,
    "PrelaunchOracle": 120,
}

_ZEROS = b"\0" * 8192


def template(name: str) -> Any:
    """A complete, all-zero account object of the named Drift account type."""
    return DRIFT_ACCOUNTS.decode(DRIFT_ACCOUNTS.acc_name_to_discriminator[name] + _ZEROS)


def build(name: str, obj: Any) -> bytes:
    """Encode an account object (from `template`) to its on-chain bytes.

    A field value that does not fit its type raises EncodingError.
    """
    try:
        return bytes(DRIFT_ACCOUNTS.build(NamedInstruction(data=obj, name=name)))
    except (ConstructError, OverflowError, TypeError) as exc:
        raise EncodingError(f"{name} does not encode: {exc}") from exc


def decode(data: bytes) -> Any:
    """Decode any Drift account by its discriminator (as driftpy does)."""
    return DRIFT_ACCOUNTS.decode(data)
