"""Fuzzed account files: `load_snapshot` raises SnapshotError naming the file, or loads
the folder with every account exactly as its file holds it; never anything else."""

from __future__ import annotations

import base64
import copy
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localnet.errors import SnapshotError
from localnet.ledger import RENT_EPOCH
from localnet.snapshot import Snapshot, load_snapshot
from schemas.snapshot import account_file_name
from tests.snapshot_folders import SMALL, account_files, fixture_doc, write_small

DOCS = {key: fixture_doc(key) for key in SMALL}
TOP_FIELDS = ("pubkey", "account")
ACCOUNT_FIELDS = ("lamports", "data", "owner", "executable", "rentEpoch", "space")
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | st.sampled_from(["base64", "AAAA", "dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@dataclass(frozen=True)
class Mutation:
    """One account file rewritten: which, how, and its new content."""

    key: str
    how: str
    content: bytes


def _data_change(draw: st.DrawFn, raw: bytes, how: str) -> bytes:
    if how == "data-truncate":
        return raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]
    if how == "data-discriminator":
        at = draw(st.integers(0, 7))
        return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    if how == "data-random":
        return draw(st.binary(max_size=1300))
    at = draw(st.integers(0, len(raw)))  # data-splice: overwrite a slice with random bytes
    patch = draw(st.binary(min_size=1, max_size=64))
    return (raw[:at] + patch + raw[at + len(patch) :])[: len(raw)]


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    key = draw(st.sampled_from(SMALL))
    doc: dict[str, Any] = copy.deepcopy(DOCS[key])
    how = draw(
        st.sampled_from(
            [
                "drop",
                "replace",
                "random-text",
                "random-bytes",
                "truncate",
                "data-truncate",
                "data-discriminator",
                "data-random",
                "data-splice",
            ]
        )
    )
    if how == "random-text":
        return Mutation(key, how, draw(st.text(max_size=200)).encode())
    if how == "random-bytes":
        return Mutation(key, how, draw(st.binary(max_size=200)))
    if how == "truncate":
        text = json.dumps(doc).encode()
        return Mutation(key, how, text[: draw(st.integers(0, len(text) - 1))])
    if how in ("drop", "replace"):
        field = draw(st.sampled_from(TOP_FIELDS + ACCOUNT_FIELDS))
        holder = doc if field in TOP_FIELDS else doc["account"]
        if how == "drop":
            holder.pop(field)
        else:
            holder[field] = draw(JSON_VALUES)
        return Mutation(key, how, json.dumps(doc).encode())
    raw = _data_change(draw, base64.b64decode(doc["account"]["data"][0]), how)
    doc["account"]["data"][0] = base64.b64encode(raw).decode()
    if draw(st.booleans()):  # mostly keep `space` right, so the bytes reach the Drift checks
        doc["account"]["space"] = len(raw)
    return Mutation(key, how, json.dumps(doc).encode())


def _assert_loaded_as_written(folder: Path, snapshot: Snapshot) -> None:
    files = account_files(folder)
    assert len(snapshot.accounts) == len(files)
    for path in files:
        doc = json.loads(path.read_text())
        written = doc["account"]
        account = snapshot.accounts[doc["pubkey"]]
        assert account.data == base64.b64decode(written["data"][0])
        assert account.lamports == written["lamports"]
        assert account.owner == written["owner"]
        assert account.executable == written.get("executable", False)
        assert account.rent_epoch == written.get("rentEpoch", RENT_EPOCH)
        space = written.get("space")  # optional: absent or null
        assert account.to_json()["space"] == len(account.data) == (space or len(account.data))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutation=mutations(), manifest=st.booleans())
def test_mutated_account_file_is_refused_by_name_or_loaded_exactly(
    mutation: Mutation, manifest: bool
) -> None:
    """Dropped or replaced fields, wrong types, random or truncated text, truncated,
    flipped or random account bytes: SnapshotError naming the file, or an exact load."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_small(Path(tmp) / "snap", manifest=manifest)
        path = folder / account_file_name(mutation.key)
        path.write_bytes(mutation.content)
        try:
            snapshot = load_snapshot(folder)
        except SnapshotError as exc:
            refused = str(exc)
        else:
            _assert_loaded_as_written(folder, snapshot)
            return
        assert path.name in refused, (mutation.how, refused)
