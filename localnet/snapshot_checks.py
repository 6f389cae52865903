"""The checks `localnet.snapshot` applies to one account of a snapshot.

A Drift-program account's type is the manifest's `kind` when it names one of the
types localnet knows (State 992 bytes, PerpMarket 1216, SpotMarket 776,
PythLazerOracle 48, PrelaunchOracle 120), else what its 8-byte Anchor discriminator
says; an account of a known type must have its size and discriminator and decode with
driftpy. A market's oracle is read with the market's own oracle source, as driftpy
reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from driftpy.accounts.oracle import decode_oracle
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.decode.pull_oracle import decode_pull_oracle
from pydantic import ValidationError

from localnet.codec import ACCOUNT_SIZES, DRIFT_ACCOUNTS, decode
from localnet.errors import SnapshotError
from localnet.ledger import Account
from localnet.oracles import source_name
from schemas.snapshot import MANIFEST_NAME

__all__ = [
    "DISCRIMINATORS",
    "SnapshotMarket",
    "decode_drift_account",
    "drift_kind",
    "read_market",
    "validation_summary",
]

DISCRIMINATORS: dict[str, bytes] = {
    name: bytes(DRIFT_ACCOUNTS.acc_name_to_discriminator[name]) for name in ACCOUNT_SIZES
}
_BY_DISCRIMINATOR = {d: name for name, d in DISCRIMINATORS.items()}
_DRIFT = str(DRIFT_PROGRAM_ID)
_MAX_ERRORS = 3
_MAX_EXPONENT = 30
_OTHER_SOURCES = ("Prelaunch", "SwitchboardOnDemand")


@dataclass(frozen=True, slots=True)
class SnapshotMarket:
    """A perp or spot market of a snapshot, as driftpy decodes it, and its oracle."""

    kind: Literal["perp", "spot"]
    market_index: int
    symbol: str
    address: str
    account: Any  # the anchorpy PerpMarket / SpotMarket
    oracle: str
    oracle_source: Any  # driftpy's OracleSource
    oracle_price: int | None  # PRICE_PRECISION; None: the oracle is missing or unreadable

    @property
    def label(self) -> str:
        """`SOL-PERP (perp 0)`."""
        return f"{self.symbol} ({self.kind} {self.market_index})"


def validation_summary(exc: ValidationError) -> str:
    """A pydantic error in one line: where and what, for the first few problems."""
    parts = []
    for error in exc.errors(include_url=False)[:_MAX_ERRORS]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    more = exc.error_count() - len(parts)
    return ("; ".join(parts) + (f" (and {more} more)" if more > 0 else ""))[:600]


def drift_kind(path: Path, data: bytes, owner: str, manifest_kind: str | None) -> str | None:
    """The known Drift type of a Drift-program account (None: another owner or type);
    SnapshotError if its size or discriminator is not that type's."""
    named = manifest_kind in ACCOUNT_SIZES
    if owner != _DRIFT:
        if named:
            raise SnapshotError(
                f"{path}: {MANIFEST_NAME} says {manifest_kind}, but the account is owned by "
                f"{owner}, not the Drift program {_DRIFT}"
            )
        return None
    by_bytes = _BY_DISCRIMINATOR.get(data[:8])
    if not named:
        if manifest_kind is not None and by_bytes is not None:
            raise SnapshotError(
                f"{path}: {MANIFEST_NAME} says {manifest_kind}, but the data starts with the "
                f"{by_bytes} discriminator"
            )
        kind, why = by_bytes, "by its discriminator"
    else:
        kind, why = manifest_kind, f"as {MANIFEST_NAME} says"
    if kind is None:
        return None  # a Drift account of a type localnet does not check: served as it is
    size, disc = ACCOUNT_SIZES[kind], DISCRIMINATORS[kind]
    if len(data) != size or data[:8] != disc:
        raise SnapshotError(
            f"{path}: not a {kind} ({why}): {len(data)} bytes starting {data[:8].hex()}, "
            f"where a {kind} has {size} bytes starting {disc.hex()}"
        )
    return kind


def decode_drift_account(path: Path, kind: str, data: bytes) -> Any:
    """driftpy's decoding of the account; SnapshotError if it cannot decode it."""
    try:
        return decode(data)
    except Exception as exc:  # anchorpy/construct raise many types; any is a bad account
        raise SnapshotError(f"{path}: driftpy cannot decode this {kind}: {exc!r}"[:600]) from exc


def _symbol(name: list[int]) -> str:
    return bytes(name).decode("utf-8", "replace").strip(" \0")


def read_market(
    path: Path, address: str, account: Any, accounts: Mapping[str, Account], warnings: list[str]
) -> SnapshotMarket:
    """The market of a decoded PerpMarket / SpotMarket and its oracle's price; a warning
    (appended to `warnings`) when the oracle is missing or does not read."""
    perp = hasattr(account, "amm")
    holder = account.amm if perp else account
    market = SnapshotMarket(
        kind="perp" if perp else "spot",
        market_index=int(account.market_index),
        symbol=_symbol(account.name),
        address=address,
        account=account,
        oracle=str(holder.oracle),
        oracle_source=holder.oracle_source,
        oracle_price=None,
    )
    source = source_name(market.oracle_source)
    oracle = accounts.get(market.oracle)
    left_out = "the market is served as captured, but left out of the simulation and /admin/"
    if oracle is None:
        warnings.append(
            f"{market.label}: its oracle {market.oracle} ({source}) is not in the snapshot; "
            f"{left_out}"
        )
        return market
    if not _readable(source):
        warnings.append(f"{market.label}: localnet does not read {source} oracles; {left_out}")
        return market
    try:
        price = _oracle_price(oracle.data, market.oracle_source)
    except Exception as exc:  # driftpy's oracle decoders raise many types; any means unreadable
        warnings.append(
            f"{market.label}: its oracle {market.oracle} does not read as {source} "
            f"({exc!r:.200}); {left_out}"
        )
        return market
    if price <= 0:
        warnings.append(
            f"{market.label}: its oracle {market.oracle} reads price {price}; {left_out}"
        )
        return market
    return dataclasses.replace(market, oracle_price=price)


def _readable(source: str) -> bool:
    """The sources localnet reads and writes (`localnet.oracles`): those of mainnet."""
    return source.startswith("PythLazer") or "Pull" in source or source in _OTHER_SOURCES


def _oracle_price(data: bytes, oracle_source: Any) -> int:
    """The price driftpy reads, once the Pyth exponent is known to be sane: driftpy
    computes 10**|exponent|, which takes forever for a wild i32."""
    source = source_name(oracle_source)
    exponent = None
    if source.startswith("PythLazer"):
        exponent = decode(data).exponent
    elif "Pull" in source:
        exponent = decode_pull_oracle(data).price_message.exponent
    if exponent is not None and abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"Pyth exponent {exponent} (Pyth posts -18 to 0)")
    return int(decode_oracle(data, oracle_source).price)
