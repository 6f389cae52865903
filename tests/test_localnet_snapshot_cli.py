"""`--snapshot DIR` and `--simulate` on `drift-stream localnet` and `drift-stream up`:
the options, what the command prints, and a bad folder as one line with exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from localnet.cli import add_arguments, server_options
from localnet.server import LocalnetServer
from tests.mainnet_fixtures import FIXTURES
from tests.snapshot_folders import SOL_PERP, write_small

SCRIPT = [sys.executable, "-m", "streamer.cli"]


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_simulation_over_a_snapshot_only_with_simulate() -> None:
    """With --snapshot the simulation is off unless --simulate (and --no-simulation
    wins); without --snapshot, --simulate changes nothing (a preset simulates)."""
    snap = ("--snapshot", str(FIXTURES))
    assert server_options(_parse(*snap))["simulation"] is None
    assert server_options(_parse(*snap, "--simulate"))["simulation"] is not None
    assert server_options(_parse(*snap, "--simulate", "--no-simulation"))["simulation"] is None
    assert server_options(_parse("--simulate")) == server_options(_parse())
    options = server_options(_parse(*snap, "--simulate", "--seed", "4"))
    assert options["snapshot"] == FIXTURES
    server = LocalnetServer(**options)  # not started: no sockets
    assert len(server.ledger) == 24
    assert server.simulator is not None
    assert server.simulator.config.seed == 4


def _bad_folder(tmp_path: Path) -> Path:
    folder = write_small(tmp_path / "bad")
    (folder / f"{SOL_PERP}.json").write_text('{"pubkey": ')
    return folder


@pytest.mark.parametrize("command", ["localnet", "up"])
async def test_bad_snapshot_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    """`drift-stream localnet|up --snapshot <bad folder>` prints `drift-stream: <file>:
    <problem>` on stderr and exits 2, with no traceback and nothing started."""
    store = tmp_path / "store"
    extra = ("--store-dir", str(store), "--nats-port", "0") if command == "up" else ()
    for folder, says in ((_bad_folder(tmp_path), "Invalid JSON"), (tmp_path / "none", "no such")):
        proc = await asyncio.create_subprocess_exec(
            *SCRIPT,
            command,
            "--snapshot",
            str(folder),
            "--port",
            "0",
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        text = err.decode()
        assert proc.returncode == 2, text
        assert text.startswith(f"drift-stream: {folder}"), text
        assert says in text
        assert "Traceback" not in text + out.decode()
        assert not store.exists()  # `up` checked the folder before starting nats-server


@pytest.mark.timeout(60)
async def test_localnet_command_serves_a_snapshot() -> None:
    """`drift-stream localnet --snapshot tests/fixtures/mainnet` says what it serves
    (accounts, markets, slots) and each warning, then serves from max_slot on."""
    proc = await asyncio.create_subprocess_exec(
        *SCRIPT,
        "localnet",
        "--snapshot",
        str(FIXTURES),
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        while not any(re.search(r"admin\s+http://", line) for line in lines):
            raw = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert raw, lines
            lines.append(raw.decode())
        text = "".join(lines)
        assert "24 accounts, 8 perp and 6 spot markets" in text
        assert "mainnet slots 298908659-409497574" in text
        assert "as captured" in text
        warnings = [line for line in lines if line.startswith("  warning: ")]
        assert len(warnings) == 5
        assert "ETH-PERP (perp 2)" in warnings[0]
        url = re.search(r"JSON-RPC\s+(http://\S+)", text)
        assert url is not None
        body = {"jsonrpc": "2.0", "id": 1, "method": "getSlot"}
        async with httpx.AsyncClient() as http:
            slot = (await http.post(url.group(1), json=body)).json()["result"]
        assert slot >= json.loads((FIXTURES / "manifest.json").read_text())["max_slot"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
