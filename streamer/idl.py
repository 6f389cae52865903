"""Drift's IDL as driftpy ships it (`driftpy/idl/drift.json`), read once at import.

`IDL` is the parsed JSON (what `streamer.layout` computes byte offsets from);
`decode_account` is driftpy's IDL coder (anchorpy over construct) for the accounts the
feed reads, and `check_account` the size and discriminator check every decoder of
ours does first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import driftpy
from anchorpy.coder.coder import Coder
from anchorpy_core.idl import Idl

from streamer.errors import SourceError

__all__ = ["IDL", "SIZES", "check_account", "decode_account", "discriminator"]

_TEXT = (Path(driftpy.__path__[0]) / "idl" / "drift.json").read_text()
IDL: dict[str, Any] = json.loads(_TEXT)
_ACCOUNTS = Coder(Idl.from_json(_TEXT)).accounts
SIZES = {"State": 992, "PerpMarket": 1216, "SpotMarket": 776}
"""On-chain sizes (bytes, discriminator included) of the accounts the feed decodes."""


def discriminator(kind: str) -> bytes:
    """The 8 bytes an account of this kind starts with (anchorpy's)."""
    value: bytes = _ACCOUNTS.acc_name_to_discriminator[kind]
    return value


def check_account(kind: str, data: bytes) -> None:
    """SourceError(kind="decode") unless `data` is at least a `kind` account's size and
    starts with its discriminator."""
    if len(data) < SIZES[kind] or data[:8] != discriminator(kind):
        raise SourceError(
            f"not a {kind} account ({len(data)} bytes starting {data[:8].hex()})", kind="decode"
        )


def decode_account(kind: str, data: bytes) -> Any:
    """A State, PerpMarket or SpotMarket account decoded with driftpy's IDL coder;
    SourceError(kind="decode") when the bytes are not one."""
    check_account(kind, data)
    try:
        return _ACCOUNTS.decode(data)
    except Exception as exc:  # construct raises many types; all mean "does not decode"
        raise SourceError(f"{kind} does not decode: {exc!r}"[:200], kind="decode") from exc
