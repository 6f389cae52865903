"""The snapshot folder format (DESIGN.md "Snapshots"): one file per account, a manifest.

An account file is what `solana account <PUBKEY> --output json` writes, which is also
what `solana-test-validator --account <PUBKEY> <FILE>` reads:

    {"pubkey": "<base58>", "account": {"lamports": 1, "data": ["<base64>", "base64"],
     "owner": "<base58>", "executable": false, "rentEpoch": 18446744073709551615,
     "space": 1216}}

`space` is optional (older CLIs leave it out); when present it must equal the data's
length. `manifest.json` is optional for a folder that is served: a plain folder of
account files is a snapshot too. When present it says where and when the accounts
were read: `min_slot`/`max_slot` of the batches (each batch's `context.slot`),
`captured_at`, `program_id`, counts per kind, and per account its kind and batch slot.
It never holds an RPC URL's secrets (`rpc` is a redacted host at most).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

__all__ = [
    "MANIFEST_NAME",
    "SNAPSHOT_FORMAT",
    "AccountData",
    "AccountFile",
    "ManifestEntry",
    "SnapshotManifest",
    "account_file_name",
    "dump_json",
]

MANIFEST_NAME = "manifest.json"
SNAPSHOT_FORMAT = 1
_U64_MAX = 2**64 - 1
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _thirty_two_bytes(text: str) -> str:
    """The key if its base58 text decodes to exactly 32 bytes (the alphabet and the
    length, 32 to 44 characters, are checked before)."""
    value = 0
    for char in text:
        value = value * 58 + _B58.index(char)
    leading_zero_bytes = len(text) - len(text.lstrip("1"))  # each leading '1' is a 0 byte
    size = leading_zero_bytes + (value.bit_length() + 7) // 8
    if size != 32:
        raise ValueError(f"not a public key: its base58 text decodes to {size} bytes, not 32")
    return text


# A base58 public key is 32 bytes: 32 to 44 characters of the base58 alphabet.
Base58Key = Annotated[
    str,
    Field(min_length=32, max_length=44, pattern=f"^[{_B58}]+$"),
    AfterValidator(_thirty_two_bytes),
]
U64 = Annotated[int, Field(ge=0, le=_U64_MAX)]


class AccountData(BaseModel):
    """The `account` object of a `solana account --output json` file."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    lamports: U64
    data: tuple[str, Literal["base64"]]
    owner: Base58Key
    executable: bool = False
    rentEpoch: U64 = _U64_MAX  # the solana CLI's name
    space: U64 | None = None

    @field_validator("data")
    @classmethod
    def _base64(cls, value: tuple[str, str]) -> tuple[str, str]:
        try:
            base64.b64decode(value[0], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"account data is not base64: {exc}") from None
        return value

    @model_validator(mode="after")
    def _space_matches(self) -> AccountData:
        if self.space is not None and self.space != len(self.raw):
            raise ValueError(f"space {self.space} but the data holds {len(self.raw)} bytes")
        return self

    @property
    def raw(self) -> bytes:
        """The account's data bytes."""
        return base64.b64decode(self.data[0], validate=True)

    @classmethod
    def of(
        cls,
        data: bytes,
        owner: str,
        *,
        lamports: int,
        executable: bool = False,
        rent_epoch: int = _U64_MAX,
    ) -> AccountData:
        return cls(
            lamports=lamports,
            data=(base64.b64encode(data).decode(), "base64"),
            owner=owner,
            executable=executable,
            rentEpoch=rent_epoch,
            space=len(data),
        )


class AccountFile(BaseModel):
    """One `<PUBKEY>.json` file of a snapshot."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    pubkey: Base58Key
    account: AccountData


class ManifestEntry(BaseModel):
    """What the manifest says of one account; fields beyond these are kept as written."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str | None = None  # PerpMarket, SpotMarket, State, an oracle type, or "Other"
    name: str | None = None  # a market's symbol
    market_index: int | None = Field(default=None, ge=0, le=65_535)
    slot: int | None = Field(default=None, ge=0)  # the context slot of its batch


class SnapshotManifest(BaseModel):
    """`manifest.json`: the header of a snapshot folder."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format: int = SNAPSHOT_FORMAT
    network: str
    program_id: Base58Key
    captured_at: str  # ISO 8601, UTC
    min_slot: int = Field(ge=0)
    max_slot: int = Field(ge=0)
    counts: dict[str, int] = Field(default_factory=dict)  # {"total": n, "<Kind>": n}
    accounts: dict[str, ManifestEntry] = Field(default_factory=dict)
    rpc: str | None = None  # the RPC's redacted host, never its path, query or secrets

    @model_validator(mode="after")
    def _slots_ordered(self) -> SnapshotManifest:
        if self.min_slot > self.max_slot:
            raise ValueError(f"min_slot {self.min_slot} is after max_slot {self.max_slot}")
        return self


def account_file_name(pubkey: str) -> str:
    """The file an account is stored in: `<PUBKEY>.json`."""
    return f"{pubkey}.json"


def dump_json(value: BaseModel | dict[str, Any]) -> str:
    """A file's text: indented JSON with a final newline (as the solana CLI writes it)."""
    data = value
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, indent=2) + "\n"
