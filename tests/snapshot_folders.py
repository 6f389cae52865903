"""Snapshot folders for tests, built from the mainnet fixtures (tests/fixtures/mainnet).

`run_snapshot(*args)` runs `drift-stream snapshot` as a subprocess (exit code, output).
`write_small` writes a small valid snapshot: the State, SOL-PERP and the USDC spot
market with their two oracles (five real mainnet accounts), with or without a
manifest. `spl_token_account` builds a foreign-owned account (an SPL token account).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import sysconfig
from pathlib import Path
from typing import Any

from driftpy.constants.config import DRIFT_PROGRAM_ID
from solders.pubkey import Pubkey

from schemas.snapshot import (
    MANIFEST_NAME,
    AccountData,
    AccountFile,
    ManifestEntry,
    SnapshotManifest,
    account_file_name,
    dump_json,
)
from tests.mainnet_fixtures import FIXTURES, load_manifest

__all__ = [
    "FIXTURE_MANIFEST",
    "SMALL",
    "SMALL_MAX_SLOT",
    "SOL_ORACLE",
    "SOL_PERP",
    "STATE",
    "TOKEN_PROGRAM",
    "USDC_ORACLE",
    "USDC_SPOT",
    "account_files",
    "fixture_doc",
    "run_snapshot",
    "spl_token_account",
    "write_doc",
    "write_small",
]

FIXTURE_MANIFEST = load_manifest()
STATE = "5zpq7DvB6UdFFvpmBPspGPNfUGoBRRCE2HHg5u3gxcsN"
SOL_PERP = "8UJgxaiQx5nTrdDgph5FiahMmzduuLTLf5WmsPegYA6W"
SOL_ORACLE = "3m6i4RFWEDw2Ft4tFHPJtYgmpPe21k56M3FHeWYrgGBz"
USDC_SPOT = "6gMq3mRCKf8aP3ttTyYhuijVZ2LGi14oDsBbkgubfLB3"
USDC_ORACLE = "9VCioxmni2gDLv11qufWzT3RDERhQE4iY5Gf7NTfYyAV"
SMALL = (STATE, SOL_PERP, SOL_ORACLE, USDC_SPOT, USDC_ORACLE)
SMALL_MIN_SLOT, SMALL_MAX_SLOT = 409_000_000, 409_000_040
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
DRIFT_STREAM = str(Path(sysconfig.get_path("scripts")) / "drift-stream")


async def run_snapshot(*args: str, timeout: float = 120) -> tuple[int, str]:
    """`drift-stream snapshot ARGS` in a subprocess: its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        DRIFT_STREAM,
        "snapshot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def account_files(folder: Path = FIXTURES) -> list[Path]:
    """The account files of a folder (every `*.json` but the manifest), by name."""
    return sorted(p for p in folder.glob("*.json") if p.name != MANIFEST_NAME)


def fixture_doc(pubkey: str) -> dict[str, Any]:
    """The mainnet fixture's account file for `pubkey`, parsed."""
    doc: dict[str, Any] = json.loads((FIXTURES / account_file_name(pubkey)).read_text())
    return doc


def write_doc(folder: Path, name: str, doc: object) -> Path:
    """Write one account file (any JSON value) as `folder/name`."""
    path = folder / name
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def write_small(folder: Path, *, manifest: bool = True, keys: tuple[str, ...] = SMALL) -> Path:
    """A small valid snapshot in `folder` (created): `<PUBKEY>.json` files and, if
    `manifest`, a manifest with each account's kind and a batch slot."""
    folder.mkdir(parents=True, exist_ok=True)
    for key in keys:
        shutil.copyfile(FIXTURES / account_file_name(key), folder / account_file_name(key))
    if manifest:
        kinds = {k: FIXTURE_MANIFEST["accounts"][k]["kind"] for k in keys}
        doc = SnapshotManifest(
            network="mainnet",
            program_id=str(DRIFT_PROGRAM_ID),
            captured_at="2026-04-01T12:00:00Z",
            min_slot=SMALL_MIN_SLOT,
            max_slot=SMALL_MAX_SLOT,
            counts={"total": len(keys)},
            accounts={
                k: ManifestEntry(kind=kinds[k], slot=SMALL_MIN_SLOT + 10 * (i % 5))
                for i, k in enumerate(keys)
            },
            rpc="api.mainnet-beta.solana.com",
        )
        (folder / MANIFEST_NAME).write_text(dump_json(doc))
    return folder


def spl_token_account(owner_wallet: Pubkey, mint: Pubkey) -> tuple[str, dict[str, Any]]:
    """(address, account file) of an SPL token account: 165 bytes owned by the token
    program, rent epoch 0 (as older accounts carry it), 2 039 280 lamports."""
    data = bytes(mint) + bytes(owner_wallet) + (1_234_567).to_bytes(8, "little")
    data += bytes(4 + 32)  # delegate: None
    data += b"\x01"  # state: Initialized
    data += bytes(4 + 8) + (0).to_bytes(8, "little")  # is_native: None, delegated_amount
    data += bytes(4 + 32)  # close_authority: None
    assert len(data) == 165
    address = str(Pubkey.find_program_address([bytes(owner_wallet), bytes(mint)], mint)[0])
    account = AccountData.of(data, TOKEN_PROGRAM, lamports=2_039_280, rent_epoch=0)
    doc = AccountFile(pubkey=address, account=account).model_dump(mode="json")
    assert base64.b64decode(doc["account"]["data"][0]) == data
    return address, doc
