"""Real mainnet Drift accounts kept as test fixtures, loaded as typed records.

`tests/fixtures/mainnet/` is a snapshot folder (DESIGN.md "Snapshots"): one
`<PUBKEY>.json` per account in the format `solana account --output json` writes, and
`manifest.json` with the header and each account's provenance (the public repository,
path and commit its bytes came from, and what that test says about slot, `now` and the
oracle). `load_accounts` reads and checks every file; `market_oracle_pairs` joins each
market to the oracle it names (None when that oracle is not kept) and the source it
reads it with; `market_slot` and `oracle_reading` give a pair's slot and oracle as the
streamer reads them. The folder's README.md says where each account came from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftpy.accounts.oracle import SWB_ON_DEMAND_CODER
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.decode.pull_oracle import decode_pull_oracle
from driftpy.types import OracleSource
from solders.pubkey import Pubkey

from localnet.codec import decode
from localnet.ledger import Account
from streamer.decode import OracleReading, variant
from streamer.oracles import decode_oracle

__all__ = [
    "FIXTURES",
    "KINDS",
    "MANIFEST",
    "FixtureAccount",
    "FixtureError",
    "Kind",
    "MarketOracle",
    "Provenance",
    "account_file_json",
    "discriminator",
    "load_accounts",
    "load_manifest",
    "market_oracle_pairs",
    "market_slot",
    "oracle_reading",
    "rent_exempt_lamports",
]

FIXTURES = Path(__file__).parent / "fixtures" / "mainnet"
MANIFEST = "manifest.json"

# The programs that own Drift's oracle accounts on mainnet (protocol-v2 `ids.rs`): Pyth
# pull updates are posted through Drift's own receiver deployment, Switchboard On-Demand
# feeds belong to Switchboard, Pyth Lazer and prelaunch oracles to Drift itself.
DRIFT_ORACLE_RECEIVER = Pubkey.from_string("G6EoTTTgpkNBtVXo96EQp2m6uwwVh2Kt6YidjkmQqoha")
SWITCHBOARD_ON_DEMAND = Pubkey.from_string("SBondMDrcV3K4kxZR1HNVT7osZxAHVHgYXL5Ze1oMUv")


class FixtureError(ValueError):
    """A fixture file or the manifest is malformed; the message names the file."""


@dataclass(frozen=True)
class Kind:
    """An account type kept here: its on-chain size and owning program."""

    name: str
    size: int
    owner: Pubkey
    is_oracle: bool


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("PerpMarket", 1216, DRIFT_PROGRAM_ID, False),
        Kind("SpotMarket", 776, DRIFT_PROGRAM_ID, False),
        Kind("State", 992, DRIFT_PROGRAM_ID, False),
        Kind("PythLazerOracle", 48, DRIFT_PROGRAM_ID, True),
        Kind("PrelaunchOracle", 120, DRIFT_PROGRAM_ID, True),
        Kind("PriceUpdateV2", 134, DRIFT_ORACLE_RECEIVER, True),
        Kind("PullFeedAccountData", 3208, SWITCHBOARD_ON_DEMAND, True),
    )
}


@dataclass(frozen=True)
class Provenance:
    """Where an account's bytes were published, and what the source says beside them."""

    repo: str
    path: str
    commit: str
    branch: str | None
    test: str | None
    line: int | None
    source_slot: int | None  # the slot the source states or runs its test at
    data_slot: int | None  # the slot recorded in the account itself, where it has one
    data_ts: int | None  # the newest unix time recorded in the account, where it has one
    notes: str
    layout: str  # "current", or "legacy": some bytes meant another field then
    legacy_notes: tuple[str, ...]


@dataclass(frozen=True)
class FixtureAccount:
    """One kept account: raw bytes, driftpy's decoding of them, and their provenance."""

    pubkey: Pubkey
    kind: str
    data: bytes
    owner: Pubkey
    lamports: int
    decoded: Any
    provenance: Provenance
    entry: Mapping[str, Any]  # the account's manifest entry as written


@dataclass(frozen=True)
class MarketOracle:
    """A market, the oracle it names (None when not kept) and the source it reads it with."""

    market: FixtureAccount
    oracle_pubkey: Pubkey
    oracle: FixtureAccount | None
    source: OracleSource


def discriminator(kind: str) -> bytes:
    """The Anchor account discriminator: the first 8 bytes of sha256("account:<Name>")."""
    return hashlib.sha256(f"account:{kind}".encode()).digest()[:8]


def rent_exempt_lamports(size: int) -> int:
    """Solana's rent-exempt minimum for an account of `size` data bytes."""
    return (size + 128) * 3480 * 2


def account_file_json(
    pubkey: Pubkey, data: bytes, owner: Pubkey, lamports: int | None = None
) -> dict[str, Any]:
    """The document `solana account <PUBKEY> --output json` writes for this account
    (rent-exempt lamports unless given)."""
    if lamports is None:
        lamports = rent_exempt_lamports(len(data))
    return {"pubkey": str(pubkey), "account": Account(data, str(owner), lamports).to_json()}


def decode_kind(kind: str, data: bytes) -> Any:
    """Decode with driftpy: Drift's IDL coder, its Pyth pull reader, its Switchboard IDL."""
    if kind == "PriceUpdateV2":
        return decode_pull_oracle(data)
    if kind == "PullFeedAccountData":
        return SWB_ON_DEMAND_CODER.accounts.decode(data)
    return decode(data)


def load_manifest(folder: Path = FIXTURES) -> dict[str, Any]:
    """The folder's manifest.json, parsed."""
    try:
        manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FixtureError(f"{folder / MANIFEST}: {exc}") from exc
    if not isinstance(manifest.get("accounts"), dict):
        raise FixtureError(f"{folder / MANIFEST}: no 'accounts' object")
    return manifest


def _read_account(path: Path, entry: Mapping[str, Any]) -> FixtureAccount:
    try:
        doc = json.loads(path.read_text())
        account = doc["account"]
        encoded, encoding = account["data"]
        if encoding != "base64":
            raise FixtureError(f"{path.name}: data encoding {encoding!r}, expected 'base64'")
        data = base64.b64decode(encoded, validate=True)
        pubkey = Pubkey.from_string(doc["pubkey"])
        owner = Pubkey.from_string(account["owner"])
        lamports = int(account["lamports"])
    except FixtureError:
        raise
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise FixtureError(f"{path.name}: not a solana account file: {exc!r}") from exc
    kind = KINDS.get(entry.get("kind", ""))
    if kind is None:
        raise FixtureError(f"{path.name}: unknown kind {entry.get('kind')!r} in the manifest")
    if str(pubkey) != path.stem:
        raise FixtureError(f"{path.name}: holds pubkey {pubkey}")
    if len(data) != kind.size or data[:8] != discriminator(kind.name):
        raise FixtureError(
            f"{path.name}: {len(data)} bytes starting {data[:8].hex()}, "
            f"not a {kind.name} ({kind.size} bytes starting {discriminator(kind.name).hex()})"
        )
    try:
        decoded = decode_kind(kind.name, data)
    except Exception as exc:  # any decoder failure is a bad fixture, reported by name
        raise FixtureError(f"{path.name}: driftpy cannot decode it: {exc!r}") from exc
    source = entry.get("source", {})
    provenance = Provenance(
        repo=source.get("repo", ""),
        path=source.get("path", ""),
        commit=source.get("commit", ""),
        branch=source.get("branch"),
        test=source.get("test"),
        line=source.get("line"),
        source_slot=entry.get("source_slot"),
        data_slot=entry.get("data_slot"),
        data_ts=entry.get("data_ts"),
        notes=entry.get("notes", ""),
        layout=entry.get("layout", ""),
        legacy_notes=tuple(entry.get("legacy_notes", ())),
    )
    return FixtureAccount(pubkey, kind.name, data, owner, lamports, decoded, provenance, entry)


def load_accounts(folder: Path = FIXTURES) -> dict[str, FixtureAccount]:
    """Every account of the folder by pubkey; FixtureError when a file or entry is bad."""
    manifest = load_manifest(folder)
    entries: dict[str, Any] = manifest["accounts"]
    files = {p.stem: p for p in folder.glob("*.json") if p.name != MANIFEST}
    if set(files) != set(entries):
        raise FixtureError(
            f"{folder}: files without a manifest entry {sorted(set(files) - set(entries))}, "
            f"entries without a file {sorted(set(entries) - set(files))}"
        )
    return {key: _read_account(files[key], entries[key]) for key in sorted(files)}


def _market_oracle(account: FixtureAccount) -> tuple[Pubkey, OracleSource]:
    if account.kind == "PerpMarket":
        return account.decoded.amm.oracle, account.decoded.amm.oracle_source
    return account.decoded.oracle, account.decoded.oracle_source


def market_oracle_pairs(accounts: Mapping[str, FixtureAccount]) -> list[MarketOracle]:
    """Each perp and spot market with the oracle it names and the source it reads it with."""
    pairs = []
    for account in accounts.values():
        if account.kind in ("PerpMarket", "SpotMarket"):
            oracle_pubkey, source = _market_oracle(account)
            oracle = accounts.get(str(oracle_pubkey))
            pairs.append(MarketOracle(account, oracle_pubkey, oracle, source))
    return pairs


def market_slot(pair: MarketOracle) -> int:
    """The slot a market's bytes are of, as its provenance states (0 if unknown)."""
    return pair.market.provenance.data_slot or pair.market.provenance.source_slot or 0


def oracle_reading(pair: MarketOracle) -> OracleReading | None:
    """The market's oracle decoded as the streamer reads it; None when it is not kept."""
    if pair.oracle is None:
        return None
    slot = pair.oracle.provenance.data_slot or 0
    return OracleReading(decode_oracle(variant(pair.source), pair.oracle.data), slot)
