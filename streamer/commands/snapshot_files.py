"""Writing a snapshot folder atomically, and naming what each account is.

The folder is written under a hidden sibling (`.DIR.partial-…`): every account file
first, `manifest.json` last, each fsynced, then one rename makes it DIR. An interrupted
capture leaves no DIR at all (and removes its partial folder); an existing DIR is only
replaced with `replace=True`, and then also by renames, never file by file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from schemas.snapshot import (
    MANIFEST_NAME,
    AccountData,
    AccountFile,
    SnapshotManifest,
    account_file_name,
    dump_json,
)
from streamer.feed.rpc import RawAccount

__all__ = ["account_kind", "write_snapshot"]

_DRIFT_KINDS = ("State", "PerpMarket", "SpotMarket", "PythLazerOracle", "PrelaunchOracle")
# Oracle account types of other programs Drift reads (driftpy decodes both).
_FOREIGN_KINDS = ("PriceUpdateV2", "PullFeedAccountData")


def _discriminator(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


_BY_DISCRIMINATOR = {_discriminator(n): n for n in (*_DRIFT_KINDS, *_FOREIGN_KINDS)}


def account_kind(data: bytes) -> str:
    """The Anchor account type the bytes start with, or "Other"."""
    return _BY_DISCRIMINATOR.get(data[:8], "Other")


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def _partial(out: Path) -> Iterator[Path]:
    """A fresh hidden folder beside `out`, removed unless it was renamed away."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield partial
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)


def write_snapshot(
    out: Path,
    accounts: Mapping[str, RawAccount],
    manifest: SnapshotManifest,
    *,
    replace: bool = False,
) -> None:
    """Write every account and the manifest to `out`, atomically (see module doc).

    FileExistsError if `out` exists and `replace` is false."""
    if out.exists() and not replace:
        raise FileExistsError(f"{out} exists: choose another --out, or give --force")
    with _partial(out) as partial:
        for key, account in accounts.items():
            data = AccountData.of(
                account.data,
                account.owner,
                lamports=account.lamports,
                executable=account.executable,
                rent_epoch=account.rent_epoch,
            )
            _write(
                partial / account_file_name(key), dump_json(AccountFile(pubkey=key, account=data))
            )
        _write(partial / MANIFEST_NAME, dump_json(manifest))
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            partial.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            partial.rename(out)
