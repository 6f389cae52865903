"""`drift-stream up` and `drift-stream localnet` as a person runs them: real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import nats
import pytest

from localnet.server import LocalnetServer
from streamer.app import Streamer
from streamer.credentials import read_credentials
from streamer.nats_server import NatsServer
from streamer.settings import Settings
from streamer.source import DriftSource
from tests.drift_clients import wait_until

SCRIPT = [sys.executable, "-m", "streamer.cli"]


async def _read_until(proc: asyncio.subprocess.Process, pattern: str, lines: list[str]) -> None:
    assert proc.stdout is not None
    while not any(re.search(pattern, line) for line in lines):
        raw = await proc.stdout.readline()
        if not raw:
            raise AssertionError(f"process ended before printing {pattern!r}: {lines}")
        lines.append(raw.decode())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(60)
async def test_up_starts_nats_and_localnet_and_stops_cleanly(tmp_path: Path) -> None:
    """`drift-stream up` prints where nats-server and localnet run; both answer; Ctrl-C
    stops everything with exit 0 and leaves no nats-server behind."""
    proc = await asyncio.create_subprocess_exec(
        *SCRIPT,
        "up",
        "--nats-port",
        "0",
        "--nats-monitor-port",
        "0",
        "--port",
        "0",
        "--preset",
        "small",
        "--dashboard-port",
        "0",
        "--store-dir",
        str(tmp_path / "state"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        await asyncio.wait_for(_read_until(proc, r"running; Ctrl-C", lines), 30)
        text = "".join(lines)
        nats_url = re.search(r"nats-server\s+(nats://\S+)", text)
        rpc_url = re.search(r"localnet\s+(http://\S+)", text)
        assert nats_url, text
        assert rpc_url, text
        # anonymous connections are refused; each role's NATS_URL is in a 0600 file
        with pytest.raises(nats.errors.Error):
            await nats.connect(nats_url.group(1), allow_reconnect=False)
        auth = tmp_path / "state" / "auth"
        for role in ("streamer", "engine", "operator", "nats"):
            path = auth / (f"{role}.env" if role != "nats" else "nats.conf")
            assert path.stat().st_mode & 0o777 == 0o600, path
        operator_url = read_credentials(auth / "operator.env")
        assert operator_url.endswith(nats_url.group(1).removeprefix("nats://"))
        nc = await nats.connect(operator_url, allow_reconnect=False)
        kv = await nc.jetstream().create_key_value(bucket="probe")
        await kv.put("k", b"v")
        await nc.close()
        assert read_credentials(auth / "engine.env").split("@")[0] not in text  # no secrets
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                rpc_url.group(1), json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"}
            ) as resp,
        ):
            assert isinstance((await resp.json())["result"], int)
        dashboard = re.search(r"dashboard\s+(http://\S+)", text)
        assert dashboard, text
        async with aiohttp.ClientSession() as http, http.get(dashboard.group(1)) as resp:
            assert "Drift Funding Engine" in await resp.text()
        # the dashboard is a consumer, so the streamer runs its DriftClient: live data
        status = await _req(operator_url, "status")
        assert status[0] == 0
        assert json.loads(status[1])["consumers"] >= 1
        for _ in range(100):  # 503 until the first values are published
            funding = await _req(operator_url, "funding", "SOL-PERP")
            if funding[0] == 0:
                break
        assert json.loads(funding[1])["symbol"] == "SOL-PERP"
        pid = re.search(r"pid=(\d+)", await _stderr_sofar(proc))
        assert pid is not None
        nats_pid = int(pid.group(1))
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert not _pid_alive(nats_pid)
        assert (tmp_path / "state" / "jetstream").is_dir()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        _kill_servers_using(tmp_path)  # a killed `up` leaves its nats-server running


def _kill_servers_using(path: Path) -> None:
    """SIGKILL every process whose command line names `path` (this test's servers)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(path).encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


async def _run(*args: str, stderr: int = asyncio.subprocess.DEVNULL) -> tuple[int, str]:
    """`drift-stream ARGS --network local`: exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        *SCRIPT, *args, "--network", "local", stdout=asyncio.subprocess.PIPE, stderr=stderr
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _req(nats_url: str, *args: str) -> tuple[int, str]:
    """`drift-stream req ...`: exit code and stdout."""
    return await _run("req", *args, "--nats-url", nats_url)


async def _stderr_sofar(proc: asyncio.subprocess.Process) -> str:
    """stderr up to the nats-server start line (its pid is logged there)."""
    assert proc.stderr is not None
    text = ""
    while "nats-server started" not in text:
        raw = await asyncio.wait_for(proc.stderr.readline(), 10)
        if not raw:
            break
        text += raw.decode()
    return text


@pytest.mark.timeout(60)
async def test_localnet_command_serves_until_sigterm(tmp_path: Path) -> None:
    """`drift-stream localnet --preset small --port 0` prints its URL, serves, and exits 0."""
    proc = await asyncio.create_subprocess_exec(
        *SCRIPT,
        "localnet",
        "--preset",
        "small",
        "--port",
        "0",
        "--no-simulation",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    lines: list[str] = []
    try:
        await asyncio.wait_for(_read_until(proc, r"admin\s+http://", lines), 30)
        url = re.search(r"JSON-RPC\s+(http://\S+)", "".join(lines))
        assert url is not None
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{url.group(1)}/admin/markets") as resp,
        ):
            assert [m["symbol"] for m in (await resp.json())["perps"]] == [
                "SOL-PERP",
                "BTC-PERP",
                "ETH-PERP",
            ]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_bad_arguments_exit_nonzero_with_usage() -> None:
    """An unknown preset is refused by the parser with exit code 2, a usage line and the
    presets it takes."""
    proc = await asyncio.create_subprocess_exec(
        *SCRIPT,
        "localnet",
        "--preset",
        "nope",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"usage:" in err
    assert b"unknown preset 'nope': choose one of small, mainnet, or synthetic-N" in err


async def _check(nats_url: str, instance_id: str) -> tuple[int, str]:
    """`drift-stream streamer --check`: exit code and output."""
    return await _run(
        "streamer",
        "--check",
        "--instance-id",
        instance_id,
        "--nats-url",
        nats_url,
        stderr=asyncio.subprocess.STDOUT,
    )


@pytest.mark.timeout(60)
async def test_streamer_check_is_a_healthcheck(
    fresh_nats: NatsServer, localnet: LocalnetServer, tmp_path: Path
) -> None:
    """`streamer --check` exits 0 for an instance that heartbeats (leader or standby),
    1 for an unknown instance, 1 when NATS cannot be reached."""
    settings = Settings(network="local", rpc_url=localnet.url, nats_url=fresh_nats.url)
    apps = [
        Streamer(settings, lambda: DriftSource(localnet.url), instance_id=name)
        for name in ("check-a", "check-b")
    ]
    tasks = [asyncio.create_task(app.run()) for app in apps]
    try:
        for app in apps:
            await asyncio.wait_for(app.ready.wait(), 10)
        await wait_until(lambda: apps[0].epoch > 0 or apps[1].epoch > 0)
        for name in ("check-a", "check-b"):
            code, out = await _check(fresh_nats.url, name)
            assert code == 0, out
            assert f"healthy: {name}" in out
        code, out = await _check(fresh_nats.url, "nobody")
        assert code == 1
        assert "no heartbeat of nobody" in out
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    code, out = await _check("nats://127.0.0.1:1", "check-a")
    assert code == 1
    assert "NATS unreachable" in out
