"""Every way a snapshot folder can be bad: `SnapshotError` naming the file and the
problem, and nothing served (a server over it is never built)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localnet import LocalnetError
from localnet.errors import SnapshotError
from localnet.server import LocalnetServer
from localnet.snapshot import load_snapshot
from schemas.snapshot import MANIFEST_NAME, account_file_name
from tests.snapshot_folders import (
    SMALL,
    SMALL_MAX_SLOT,
    SOL_PERP,
    STATE,
    TOKEN_PROGRAM,
    USDC_ORACLE,
    write_doc,
    write_small,
)

SOL_FILE = account_file_name(SOL_PERP)
Mutation = Callable[[Path], None]


def _edit(key: str, change: Callable[[dict[str, Any]], object]) -> Mutation:
    """Change the parsed account file of `key` in place (`change` mutates the dict)."""

    def mutate(folder: Path) -> None:
        path = folder / account_file_name(key)
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    return mutate


def _edit_data(key: str, change: Callable[[bytes], bytes]) -> Mutation:
    def set_data(doc: dict[str, Any]) -> None:
        raw = change(base64.b64decode(doc["account"]["data"][0]))
        doc["account"]["data"][0] = base64.b64encode(raw).decode()
        doc["account"]["space"] = len(raw)

    return _edit(key, set_data)


def _edit_manifest(change: Callable[[dict[str, Any]], object]) -> Mutation:
    def mutate(folder: Path) -> None:
        path = folder / MANIFEST_NAME
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    return mutate


def _text(name: str, text: str) -> Mutation:
    def mutate(folder: Path) -> None:
        (folder / name).write_text(text)

    return mutate


def _flip(at: int) -> Callable[[bytes], bytes]:
    return lambda raw: raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


def _copy_as(key: str, name: str, pubkey: str | None = None) -> Mutation:
    def mutate(folder: Path) -> None:
        doc = json.loads((folder / account_file_name(key)).read_text())
        if pubkey is not None:
            doc["pubkey"] = pubkey
        write_doc(folder, name, doc)

    return mutate


# (id, with a manifest?, mutation, what the message must say besides the file's name)
CASES: list[tuple[str, bool, Mutation, str, str]] = [
    ("truncated JSON", True, _text(SOL_FILE, '{"pubkey": "8UJg'), SOL_FILE, "Invalid JSON"),
    ("not JSON at all", False, _text(SOL_FILE, "\x00\xff garbage"), SOL_FILE, "Invalid JSON"),
    (
        "JSON of another shape",
        True,
        _text(SOL_FILE, "[1, 2, 3]"),
        SOL_FILE,
        "not a solana account file",
    ),
    (
        "data not base64",
        True,
        _edit(SOL_PERP, lambda d: d["account"].update(data=["not base64!", "base64"])),
        SOL_FILE,
        "not base64",
    ),
    (
        "data in another encoding",
        True,
        _edit(SOL_PERP, lambda d: d["account"].update(data=["abc", "base58"])),
        SOL_FILE,
        "account.data",
    ),
    (
        "lamports missing",
        True,
        _edit(SOL_PERP, lambda d: d["account"].pop("lamports")),
        SOL_FILE,
        "account.lamports: Field required",
    ),
    (
        "owner missing",
        True,
        _edit(SOL_PERP, lambda d: d["account"].pop("owner")),
        SOL_FILE,
        "account.owner",
    ),
    ("pubkey missing", False, _edit(SOL_PERP, lambda d: d.pop("pubkey")), SOL_FILE, "pubkey"),
    (
        "lamports a string",
        True,
        _edit(SOL_PERP, lambda d: d["account"].update(lamports="9354240")),
        SOL_FILE,
        "account.lamports",
    ),
    (
        "space not the data's length",
        True,
        _edit(SOL_PERP, lambda d: d["account"].update(space=1215)),
        SOL_FILE,
        "space 1215",
    ),
    (
        "pubkey not 32 bytes",
        False,
        _edit(SOL_PERP, lambda d: d.update(pubkey="2" * 32)),
        SOL_FILE,
        "not a public key",
    ),
    (
        "file holds another pubkey",
        True,
        _edit(SOL_PERP, lambda d: d.update(pubkey=TOKEN_PROGRAM)),
        SOL_FILE,
        f"holds pubkey {TOKEN_PROGRAM}",
    ),
    (
        "duplicate pubkey",
        False,
        _copy_as(SOL_PERP, "a-copy.json"),
        "a-copy.json",
        f"pubkey {SOL_PERP} is also in",
    ),
    (
        "perp market one byte short",
        True,
        _edit_data(SOL_PERP, lambda raw: raw[:-1]),
        SOL_FILE,
        "not a PerpMarket (as manifest.json says): 1215 bytes",
    ),
    (
        "perp market one byte short, no manifest",
        False,
        _edit_data(SOL_PERP, lambda raw: raw[:-1]),
        SOL_FILE,
        "not a PerpMarket (by its discriminator)",
    ),
    (
        "perp market discriminator flipped",
        True,
        _edit_data(SOL_PERP, _flip(3)),
        SOL_FILE,
        "not a PerpMarket",
    ),
    (
        "perp market driftpy cannot decode",
        False,
        _edit_data(SOL_PERP, lambda raw: raw[:8] + b"\xff" * (len(raw) - 8)),
        SOL_FILE,
        "driftpy cannot decode this PerpMarket",
    ),
    (
        "two perp markets with one index",
        False,
        _copy_as(SOL_PERP, "twin.json", pubkey=TOKEN_PROGRAM),
        "twin.json",
        "has the index of SOL-PERP",
    ),
    (
        "no State account",
        False,
        lambda f: (f / account_file_name(STATE)).unlink(),
        STATE,
        "missing",
    ),
    (
        "State account of another type",
        False,
        _edit_data(STATE, _flip(0)),
        account_file_name(STATE),
        "not a State",
    ),
    (
        "manifest kind for a foreign account",
        True,
        _edit(USDC_ORACLE, lambda d: d["account"].update(owner=TOKEN_PROGRAM)),
        account_file_name(USDC_ORACLE),
        "says PythLazerOracle, but the account is owned by",
    ),
    (
        "manifest kind against the discriminator",
        True,
        _edit_manifest(lambda m: m["accounts"][SOL_PERP].update(kind="Other")),
        SOL_FILE,
        "says Other, but the data starts with the PerpMarket discriminator",
    ),
    ("manifest not JSON", True, _text(MANIFEST_NAME, "{"), MANIFEST_NAME, "not a valid manifest"),
    (
        "manifest without network",
        True,
        _edit_manifest(lambda m: m.pop("network")),
        MANIFEST_NAME,
        "network: Field required",
    ),
    (
        "manifest slots reversed",
        True,
        _edit_manifest(lambda m: m.update(min_slot=m["max_slot"] + 1)),
        MANIFEST_NAME,
        "is after max_slot",
    ),
    (
        "manifest of a later format",
        True,
        _edit_manifest(lambda m: m.update(format=2)),
        MANIFEST_NAME,
        "format 2",
    ),
    (
        "manifest of another program",
        True,
        _edit_manifest(lambda m: m.update(program_id=TOKEN_PROGRAM)),
        MANIFEST_NAME,
        f"a snapshot of program {TOKEN_PROGRAM}",
    ),
    (
        "manifest entry without a file",
        True,
        lambda f: (f / SOL_FILE).unlink(),
        MANIFEST_NAME,
        f"lists accounts with no file: {SOL_FILE}",
    ),
    (
        "manifest entry slot outside the batches",
        True,
        _edit_manifest(lambda m: m["accounts"][SOL_PERP].update(slot=m["max_slot"] + 1)),
        MANIFEST_NAME,
        f"account {SOL_PERP} was read at slot",
    ),
]


@pytest.mark.parametrize(
    ("manifest", "mutate", "names", "says"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_folder_raises_naming_the_file(
    tmp_path: Path, manifest: bool, mutate: Mutation, names: str, says: str
) -> None:
    """The error names the file and says what is wrong; no server is built over it."""
    folder = write_small(tmp_path / "snap", manifest=manifest)
    load_snapshot(folder)  # valid before the mutation
    mutate(folder)
    with pytest.raises(SnapshotError) as exc:
        load_snapshot(folder)
    assert names in str(exc.value)
    assert says in str(exc.value)
    assert isinstance(exc.value, LocalnetError)
    with pytest.raises(SnapshotError):
        LocalnetServer(snapshot=folder)


def test_missing_or_empty_folders(tmp_path: Path) -> None:
    """A missing path, a file, a folder without account files (only a manifest, or a
    directory named like one) are each refused with the path in the message."""
    cases = {
        tmp_path / "nowhere": "no such snapshot folder",
        write_doc(tmp_path, "file.json", {}): "not a folder",
    }
    empty = tmp_path / "empty"
    (empty / "dir.json").mkdir(parents=True)
    cases[empty] = "no account files"
    only_manifest = write_small(tmp_path / "only", keys=SMALL)
    for key in SMALL:
        (only_manifest / account_file_name(key)).unlink()
    (only_manifest / MANIFEST_NAME).write_text(
        (only_manifest / MANIFEST_NAME).read_text().replace('"accounts"', '"unused"')
    )
    cases[only_manifest] = "no account files"
    for path, says in cases.items():
        with pytest.raises(SnapshotError) as exc:
            load_snapshot(path)
        assert str(path) in str(exc.value)
        assert says in str(exc.value)


def test_small_folder_loads_as_written(tmp_path: Path) -> None:
    """The valid small folder: five accounts, the manifest's slots, no warnings."""
    snapshot = load_snapshot(write_small(tmp_path))
    assert sorted(snapshot.accounts) == sorted(SMALL)
    assert snapshot.warnings == []
    assert snapshot.manifest is not None
    assert snapshot.start_slot == snapshot.manifest.max_slot == SMALL_MAX_SLOT
    assert [m.label for m in snapshot.perps] == ["SOL-PERP (perp 0)"]
    assert [m.label for m in snapshot.spots] == ["USDC (spot 0)"]
