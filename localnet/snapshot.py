"""Read a snapshot folder (DESIGN.md "Snapshots") into accounts localnet can serve.

`load_snapshot(folder)` reads every `*.json` account file (what `solana account
--output json` writes) and `manifest.json` when there is one, checks the whole folder,
and returns a `Snapshot`: the accounts as `localnet.ledger.Account`s with lamports,
owner, executable and rent epoch exactly as in the files, the manifest, the Drift
markets found, and warnings. Any problem raises `SnapshotError` naming the file, and
nothing is loaded. What is checked (see `localnet.snapshot_checks`):

- every file is an account file (JSON, fields and their types, base64 data, `space`
  equal to the data's length); no pubkey twice; with a manifest, `<X>.json` holds
  pubkey X, every manifest entry has its file, and the manifest itself is valid;
- an account owned by the Drift program whose type is known (the manifest's `kind`,
  else its discriminator) has that type's size and discriminator, and driftpy decodes
  it; accounts of other owners, and Drift accounts of other types, are served as they
  are;
- the State account (the Drift program's State PDA) is there; no two perp (or spot)
  markets share an index.

A market whose oracle account is missing, or does not read with the market's oracle
source, still loads, with a warning (logged at WARNING) naming the market and oracle
(and one more: driftpy's websocket DriftClient cannot subscribe to such a snapshot).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from driftpy.constants.config import DRIFT_PROGRAM_ID
from pydantic import ValidationError

from localnet.errors import SnapshotError
from localnet.ledger import DEFAULT_START_SLOT, Account
from localnet.markets import STATE_ADDRESS
from localnet.snapshot_checks import (
    SnapshotMarket,
    decode_drift_account,
    drift_kind,
    read_market,
    validation_summary,
)
from schemas.snapshot import (
    MANIFEST_NAME,
    SNAPSHOT_FORMAT,
    AccountData,
    AccountFile,
    ManifestEntry,
    SnapshotManifest,
)

__all__ = ["Snapshot", "SnapshotMarket", "load_snapshot"]

log = logging.getLogger("drift_stream.localnet")
_DRIFT = str(DRIFT_PROGRAM_ID)
# driftpy 0.8.89's find_all_market_and_oracles drops the oracles getMultipleAccounts
# answers null for, then pairs the rest with the wrong oracle sources and fails.
_WEBSOCKET_CLIENTS = (
    "driftpy's own websocket DriftClient (find-all mode) cannot subscribe while a "
    "market's oracle is missing (the streamer can: it publishes that market unpriced)"
)


@dataclass(frozen=True)
class Snapshot:
    """A checked snapshot folder, ready to serve."""

    folder: Path
    accounts: dict[str, Account]  # by base58 address
    manifest: SnapshotManifest | None
    warnings: list[str]
    kinds: dict[str, str]  # address -> Drift account type, for the Drift accounts of known type
    perps: tuple[SnapshotMarket, ...]  # by market index
    spots: tuple[SnapshotMarket, ...]
    start_slot: int  # the manifest's max_slot, else the ledger's default start

    def describe(self) -> str:
        """One line saying what is served: accounts, markets, slots."""
        m = self.manifest
        slots = (
            f"{m.network} slots {m.min_slot}-{m.max_slot}, captured {m.captured_at}"
            if m is not None
            else "no manifest"
        )
        return (
            f"snapshot {self.folder}: {len(self.accounts)} accounts, {len(self.perps)} perp "
            f"and {len(self.spots)} spot markets ({slots}); slot clock from {self.start_slot}"
        )


def load_snapshot(folder: Path | str) -> Snapshot:
    """The snapshot in `folder`, checked whole; SnapshotError naming the file if not."""
    root = Path(folder)
    if not root.exists():
        raise SnapshotError(f"{root}: no such snapshot folder")
    if not root.is_dir():
        raise SnapshotError(f"{root}: not a folder (a snapshot is a folder of account files)")
    manifest = _read_manifest(root / MANIFEST_NAME)
    files = _read_files(root, manifest)
    entries = manifest.accounts if manifest is not None else {}
    warnings: list[str] = []
    if manifest is not None:
        _check_entries(root / MANIFEST_NAME, manifest, files, warnings)
    start = manifest.max_slot if manifest is not None else DEFAULT_START_SLOT
    accounts: dict[str, Account] = {}
    kinds: dict[str, str] = {}
    decoded: dict[str, object] = {}
    for key, (path, data) in files.items():
        entry = entries.get(key, ManifestEntry())
        raw = data.raw
        kind = drift_kind(path, raw, data.owner, entry.kind)
        if kind is not None:
            kinds[key] = kind
            decoded[key] = decode_drift_account(path, kind, raw)
        slot = start if entry.slot is None else entry.slot
        accounts[key] = Account(
            data=raw,
            owner=data.owner,
            lamports=data.lamports,
            executable=data.executable,
            slot=slot,
            rent_epoch=data.rentEpoch,
        )
    state = str(STATE_ADDRESS)
    if kinds.get(state) != "State":
        raise SnapshotError(
            f"{root}: no State account: {state}.json (the State of the Drift program "
            f"{_DRIFT}) is {'not a State' if state in accounts else 'missing'}"
        )
    perps = _markets(files, kinds, decoded, accounts, "PerpMarket", warnings)
    spots = _markets(files, kinds, decoded, accounts, "SpotMarket", warnings)
    if any(m.oracle not in accounts for m in (*perps, *spots)):
        warnings.append(_WEBSOCKET_CLIENTS)
    for warning in warnings:
        log.warning("snapshot %s: %s", root, warning)
    return Snapshot(root, accounts, manifest, warnings, kinds, perps, spots, start)


def _read_manifest(path: Path) -> SnapshotManifest | None:
    if not path.exists():
        return None
    try:
        manifest = SnapshotManifest.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except ValidationError as exc:
        raise SnapshotError(f"{path}: not a valid manifest: {validation_summary(exc)}") from exc
    if manifest.format != SNAPSHOT_FORMAT:
        raise SnapshotError(
            f"{path}: snapshot format {manifest.format}; this localnet reads format "
            f"{SNAPSHOT_FORMAT}"
        )
    if manifest.program_id != _DRIFT:
        raise SnapshotError(
            f"{path}: a snapshot of program {manifest.program_id}; localnet serves the "
            f"Drift program {_DRIFT}"
        )
    return manifest


def _read_files(
    root: Path, manifest: SnapshotManifest | None
) -> dict[str, tuple[Path, AccountData]]:
    """Every account file by pubkey (sorted by file name)."""
    paths = sorted(p for p in root.glob("*.json") if p.name != MANIFEST_NAME and p.is_file())
    if not paths:
        raise SnapshotError(f"{root}: no account files (*.json) in the snapshot folder")
    files: dict[str, tuple[Path, AccountData]] = {}
    for path in paths:
        try:
            doc = AccountFile.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
        except ValidationError as exc:
            raise SnapshotError(
                f"{path}: not a solana account file: {validation_summary(exc)}"
            ) from exc
        if manifest is not None and path.stem != doc.pubkey:
            raise SnapshotError(f"{path}: holds pubkey {doc.pubkey}, not {path.stem}")
        if doc.pubkey in files:
            raise SnapshotError(
                f"{path}: pubkey {doc.pubkey} is also in {files[doc.pubkey][0].name}"
            )
        files[doc.pubkey] = (path, doc.account)
    return files


def _check_entries(
    path: Path,
    manifest: SnapshotManifest,
    files: dict[str, tuple[Path, AccountData]],
    warnings: list[str],
) -> None:
    missing = sorted(set(manifest.accounts) - set(files))
    if missing:
        raise SnapshotError(
            f"{path}: lists accounts with no file: {missing[0]}.json"
            + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        )
    for key, entry in manifest.accounts.items():
        if entry.slot is not None and not manifest.min_slot <= entry.slot <= manifest.max_slot:
            raise SnapshotError(
                f"{path}: account {key} was read at slot {entry.slot}, outside "
                f"min_slot {manifest.min_slot} .. max_slot {manifest.max_slot}"
            )
    unlisted = sorted(set(files) - set(manifest.accounts))
    if unlisted:
        warnings.append(
            f"{len(unlisted)} account files are not in {MANIFEST_NAME} (served all the "
            f"same), e.g. {files[unlisted[0]][0].name}"
        )
    total = manifest.counts.get("total")
    if total is not None and total != len(files):
        warnings.append(f"{MANIFEST_NAME} counts {total} accounts, the folder holds {len(files)}")


def _markets(
    files: dict[str, tuple[Path, AccountData]],
    kinds: dict[str, str],
    decoded: dict[str, object],
    accounts: dict[str, Account],
    kind: str,
    warnings: list[str],
) -> tuple[SnapshotMarket, ...]:
    """The markets of one kind by index; SnapshotError if two share an index."""
    found: dict[int, SnapshotMarket] = {}
    for key in sorted(k for k, v in kinds.items() if v == kind):
        path = files[key][0]
        market = read_market(path, key, decoded[key], accounts, warnings)
        twin = found.get(market.market_index)
        if twin is not None:
            raise SnapshotError(
                f"{path}: {market.label} has the index of {twin.symbol} in "
                f"{files[twin.address][0].name}: no two {market.kind} markets share an index"
            )
        found[market.market_index] = market
    return tuple(found[i] for i in sorted(found))
