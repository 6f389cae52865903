"""`drift-stream snapshot` against localnet (a real subprocess of the console script):
what it writes, how few requests it sends, on strict and capped providers, secrets,
atomic writing, Ctrl-C."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sys
from pathlib import Path

import pytest

from localnet import FaultRequest
from localnet.server import LocalnetServer
from schemas.snapshot import MANIFEST_NAME, AccountFile, SnapshotManifest
from tests.drift_clients import wait_until
from tests.snapshot_folders import run_snapshot

SECRET = "k3y-abcdefghijklmnopqrstuvwxyz012345"


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _files(folder: Path) -> dict[str, AccountFile]:
    return {
        p.stem: AccountFile.model_validate_json(p.read_text())
        for p in folder.glob("*.json")
        if p.name != MANIFEST_NAME
    }


@pytest.mark.timeout(120)
async def test_capture_writes_every_account_exactly(
    localnet_mainnet: LocalnetServer, tmp_path: Path
) -> None:
    """State, 85 perp and 63 spot markets and their 120 oracles, each byte for byte as
    served, in 5 requests; the manifest spans the batches' slots and keeps no secret."""
    ln = localnet_mainnet
    ln.stats.reset()
    out = tmp_path / "snap"
    code, text = await run_snapshot("--rpc-url", f"{ln.url}/?api-key={SECRET}", "--out", str(out))
    assert code == 0, text
    assert SECRET not in text
    assert ln.stats_json()["requests_per_method"] == {"getAccountInfo": 1, "getMultipleAccounts": 4}
    files = _files(out)
    assert len(files) == 269
    for key, doc in files.items():
        served = ln.ledger.get(key)
        assert served is not None
        assert base64.b64decode(doc.account.data[0]) == served.data
        assert (doc.account.owner, doc.account.lamports) == (served.owner, served.lamports)
        assert doc.account.space == len(served.data)
    manifest = SnapshotManifest.model_validate_json((out / MANIFEST_NAME).read_text())
    assert manifest.counts["total"] == 269
    assert (manifest.counts["PerpMarket"], manifest.counts["SpotMarket"]) == (85, 63)
    assert manifest.min_slot <= manifest.max_slot <= ln.ledger.slot
    assert {e.slot for e in manifest.accounts.values()} <= set(
        range(manifest.min_slot, manifest.max_slot + 1)
    )
    assert manifest.accounts[str(ln.markets.perp("SOL-PERP").address)].name == "SOL-PERP"
    assert manifest.rpc == "http://127.0.0.1"
    assert not any(SECRET in p.read_text() for p in out.iterdir())
    assert _names(tmp_path) == ["snap"]  # no partial folder left


async def test_a_subset_and_an_unknown_name(localnet: LocalnetServer, tmp_path: Path) -> None:
    """--markets keeps State, the named markets and their oracles; an unknown name is
    an error naming the valid ones, and nothing is written."""
    out = tmp_path / "some"
    code, text = await run_snapshot(
        "--rpc-url", localnet.url, "--out", str(out), "--markets", "btc-perp,USDC"
    )
    assert code == 0, text
    kinds = sorted(
        e.kind or ""
        for e in SnapshotManifest.model_validate_json(
            (out / MANIFEST_NAME).read_text()
        ).accounts.values()
    )
    assert kinds == ["PerpMarket", "PythLazerOracle", "PythLazerOracle", "SpotMarket", "State"]
    bad = tmp_path / "bad"
    code, text = await run_snapshot(
        "--rpc-url", localnet.url, "--out", str(bad), "--markets", "NOPE-PERP"
    )
    assert code == 1
    assert "unknown markets NOPE-PERP; valid: SOL-PERP, BTC-PERP, ETH-PERP, USDC" in text
    assert "Traceback" not in text
    assert not bad.exists()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("provider", ["strict-429", "capped"])
async def test_capture_completes_on_a_strict_provider(tmp_path: Path, provider: str) -> None:
    """On strict-429 (10 requests/s, 2/s for getMultipleAccounts) and capped (5 keys a
    call) the capture completes with the same accounts."""
    async with LocalnetServer(preset="mainnet", provider=provider) as ln:
        out = tmp_path / provider
        code, text = await run_snapshot("--rpc-url", ln.url, "--out", str(out))
        stats = ln.stats_json()
    print(f"\n{provider}: {text.strip()} | localnet: {stats['requests_per_method']}")
    print(f"  http {stats['http_status']}")
    assert code == 0, text
    assert len(_files(out)) == 269
    assert stats["http_status"].get("429", 0) == 0 or "answered 429" in text
    if provider == "capped":
        assert stats["http_status"]["413"] == 1  # the probe that taught the cap


async def test_an_existing_folder_is_kept_unless_forced(
    localnet: LocalnetServer, tmp_path: Path
) -> None:
    """--out naming an existing folder is refused and left as it was; --force replaces
    it whole."""
    out = tmp_path / "snap"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    code, text = await run_snapshot("--rpc-url", localnet.url, "--out", str(out))
    assert code == 1
    assert "exists" in text
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    code, text = await run_snapshot("--rpc-url", localnet.url, "--out", str(out), "--force")
    assert code == 0, text
    assert not (out / "mine.txt").exists()
    assert (out / MANIFEST_NAME).is_file()
    assert _names(tmp_path) == ["snap"]


@pytest.mark.timeout(60)
async def test_ctrl_c_leaves_no_folder(localnet: LocalnetServer, tmp_path: Path) -> None:
    """SIGINT while reading (a slow RPC): the command stops at once and leaves neither
    the folder nor a partial one."""
    await localnet.set_faults(FaultRequest(latency_ms=2000))
    out = tmp_path / "snap"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from streamer.cli import main; sys.exit(main(sys.argv[1:]))",
        "snapshot",
        "--rpc-url",
        localnet.url,
        "--out",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    await wait_until(lambda: localnet.stats_json()["http_requests"] > 0)  # one is on its way
    proc.send_signal(signal.SIGINT)
    out_text, _ = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 130, out_text.decode()
    assert "Traceback" not in out_text.decode()
    assert _names(tmp_path) == []


def test_manifest_json_is_what_the_format_says() -> None:
    """The manifest model rejects a span that runs backwards (a damaged manifest)."""
    with pytest.raises(ValueError, match="min_slot"):
        SnapshotManifest.model_validate_json(
            json.dumps(
                {
                    "network": "mainnet",
                    "program_id": "dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH",
                    "captured_at": "2026-12-01T00:00:00Z",
                    "min_slot": 5,
                    "max_slot": 4,
                }
            )
        )
