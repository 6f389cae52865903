"""A first run without surprises: what a new user met, one test each, as real processes.

A server left on the ports by an earlier `up`; signals at every stage; nats-server
outliving a killed `up`; market names cut in a narrow pipe; noisy logs; refused
credentials retried forever; a permissions violation logged on every try.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from rich.console import Console

from localnet.presets import preset
from localnet.server import LocalnetServer
from schemas import StreamerState
from streamer.app import Streamer
from streamer.credentials import Credentials, url_with_credentials
from streamer.nats_process import PidFile
from streamer.nats_server import NatsServer, find_nats_server
from streamer.ports import free_port
from streamer.settings import Settings
from streamer.source import DriftSource
from subscribers import AuthenticationError, DriftStreamClient
from subscribers.funding_table import render
from tests.drift_clients import wait_until
from tests.factories import funding_rate
from tests.test_auth import SecureNats, secure_nats, secured_streamer

__all__ = ["secure_nats", "secured_streamer"]  # fixtures shared with test_auth

SCRIPT = [sys.executable, "-m", "streamer.cli"]
SMALL_UP = ("--port", "0", "--preset", "small", "--dashboard-port", "-1")


async def _up(state: Path, nats_port: int = 0, monitor_port: int = 0) -> Proc:
    """`drift-stream up` on the small preset, its store in `state` (0: free ports)."""
    return await Proc.start(
        "up",
        "--nats-port",
        str(nats_port),
        "--nats-monitor-port",
        str(monitor_port),
        "--store-dir",
        str(state),
        *SMALL_UP,
    )


class Proc:
    """A `drift-stream` process: its output lines as they come, and its exit awaited."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            asyncio.create_task(self._read(proc.stdout, self.out)),
            asyncio.create_task(self._read(proc.stderr, self.err)),
        ]
        self._changed = asyncio.Event()

    @classmethod
    async def start(cls, *args: str, env: dict[str, str] | None = None) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            *SCRIPT,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        return cls(proc)

    async def _read(self, stream: asyncio.StreamReader | None, into: list[str]) -> None:
        assert stream is not None
        while raw := await stream.readline():
            into.append(raw.decode())
            self._changed.set()
        self._changed.set()

    @property
    def text(self) -> str:
        return "".join(self.out) + "".join(self.err)

    async def wait_for(self, pattern: str, timeout: float = 30) -> None:
        """Until stdout or stderr has a line matching `pattern` (AssertionError if the
        process ends first)."""
        async with asyncio.timeout(timeout):
            while not re.search(pattern, self.text):
                if all(r.done() for r in self._readers):
                    raise AssertionError(f"ended before {pattern!r}:\n{self.text}")
                self._changed.clear()
                await self._changed.wait()

    async def exit_code(self, timeout: float = 20) -> int:
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await asyncio.gather(*self._readers)
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


async def _gone(pid: int, timeout: float = 10) -> None:
    """Until process `pid` has exited (a pidfd becomes readable: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    loop.add_reader(fd, exited.set)
    try:
        await asyncio.wait_for(exited.wait(), timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


@pytest.mark.timeout(60)
async def test_a_leftover_server_on_the_ports_is_named_not_taken_for_ours(
    tmp_path: Path,
) -> None:
    """A nats-server left on up's ports (an earlier `up` killed): the new `up` does not
    report it as started nor talk to it (Authorization Violation forever); it exits 1
    with one message naming the port and the leftover's pid."""
    state = tmp_path / "state"
    async with NatsServer(store_dir=tmp_path / "old") as leftover:
        PidFile(state / "nats-server.pid").write(
            leftover.pid, "drift-stream-old", leftover.url, leftover.monitor_url
        )
        up = await _up(state, leftover.port, leftover.http_port)
        try:
            code = await up.exit_code(30)
        finally:
            await up.kill()
        assert code == 1, up.text
        assert "nats-server started" not in up.text
        assert "authorization violation" not in up.text.lower()
        message = "".join(up.err)
        assert f"port {leftover.port} is in use by nats-server pid {leftover.pid}" in message
        assert f"kill {leftover.pid}" not in message  # its owner (this test) still runs
        assert f"run by pid {os.getpid()} (" in message
        assert "end of" not in message  # the cause is named: no server log tail
        assert "Traceback" not in message
        assert leftover.running  # ours to stop, not up's


@pytest.mark.timeout(60)
async def test_a_server_left_behind_is_named_with_the_command_to_stop_it(
    tmp_path: Path,
) -> None:
    """The finding itself: `up` killed, its nats-server orphaned (an earlier session's,
    before servers died with their owner). The new `up` names it as left behind by the
    earlier drift-stream in this folder and says how to stop it."""
    state = tmp_path / "state"
    ports = [free_port(), free_port()]
    spawn = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        '"$0" -a 127.0.0.1 -p "$1" -m "$2" -js -sd "$3" >/dev/null 2>&1 & echo $!',
        str(find_nats_server()),
        str(ports[0]),
        str(ports[1]),
        str(tmp_path / "old"),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await spawn.communicate()  # sh exits: the server is an orphan now
    orphan = int(out)
    try:
        await _listening(ports[0])
        PidFile(state / "nats-server.pid").write(orphan, "old", "nats://old", "http://old")
        up = await _up(state, ports[0], ports[1])
        try:
            code = await up.exit_code(30)
        finally:
            await up.kill()
        assert code == 1, up.text
        assert (
            f"drift-stream: nats-server exited with code 1 while starting: its client port "
            f"{ports[0]} is in use by a leftover nats-server, pid {orphan}, left behind by an "
            f"earlier drift-stream in {state}; stop it with `kill {orphan}` and start again"
        ) in up.text
    finally:
        os.kill(orphan, signal.SIGKILL)
    await _gone(orphan)


async def _listening(port: int, timeout: float = 10) -> None:
    """Until something accepts TCP connections on `port` (a server starting)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)  # no readiness event to await from a foreign process
                continue
            writer.close()
            return


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("stage", ["starting", "running"])
async def test_up_stops_on_a_signal_at_any_stage(
    tmp_path: Path, sig: signal.Signals, stage: str
) -> None:
    """SIGINT or SIGTERM while `up` is still starting (nats-server up, localnet and the
    streamer not yet) or running: exit 0, every child stopped."""
    state = tmp_path / "state"
    up = await _up(state)
    try:
        await up.wait_for(r"nats-server\s+nats://" if stage == "starting" else "running; Ctrl-C")
        record = PidFile(state / "nats-server.pid").read()
        assert record is not None
        nats_pid = record["pid"]
        assert isinstance(nats_pid, int)
        sent = time.monotonic()
        up.proc.send_signal(sig)
        code = await up.exit_code(20)
        took = time.monotonic() - sent
    finally:
        await up.kill()
    assert code == 0, up.text
    assert "drift-stream up: stopped" in up.text
    assert "Traceback" not in up.text
    await _gone(nats_pid)
    assert not (state / "nats-server.pid").exists()
    print(f"up {stage} {sig.name}: exit {code} after {took:.2f} s")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_streamer_stops_on_a_signal_while_nats_is_unreachable(sig: signal.Signals) -> None:
    """`drift-stream streamer` retrying a NATS that is down: a signal stops it at once
    (exit 0), and the retries are logged once, not twice a second."""
    nats_url = f"nats://127.0.0.1:{free_port()}"
    streamer = await Proc.start(
        "streamer", "--network", "local", "--nats-url", nats_url, "--rpc-url", "http://127.0.0.1:1"
    )
    try:
        await streamer.wait_for("cannot reach NATS")  # its first failed connect
        retries = await _quiet_for(streamer, 1.5)
        sent = time.monotonic()
        streamer.proc.send_signal(sig)
        code = await streamer.exit_code(15)
        took = time.monotonic() - sent
    finally:
        await streamer.kill()
    assert code == 0, streamer.text
    assert retries == 1, streamer.text
    assert "Traceback" not in streamer.text
    print(f"streamer, NATS unreachable, {sig.name}: exit {code} after {took:.2f} s")


async def _quiet_for(proc: Proc, seconds: float) -> int:
    """How many NATS lines `proc` logged by the end of `seconds` (it keeps retrying)."""
    await asyncio.sleep(seconds)  # a span of time is what is measured here
    return sum("NATS" in line for line in proc.err)


@pytest.mark.timeout(60)
async def test_nats_server_dies_with_a_killed_up(tmp_path: Path) -> None:
    """SIGKILL of `up` (no cleanup runs): its nats-server goes too."""
    state = tmp_path / "state"
    up = await _up(state)
    try:
        await up.wait_for("running; Ctrl-C")
        record = PidFile(state / "nats-server.pid").read()
        assert record is not None
        nats_pid = record["pid"]
        assert isinstance(nats_pid, int)
        assert _alive(nats_pid)
        up.proc.kill()
        await up.exit_code(10)
    finally:
        await up.kill()
    await _gone(nats_pid)
    assert not _alive(nats_pid)


@pytest.mark.parametrize("width", [80, 60, 40])
def test_a_narrow_console_keeps_every_market_name_whole(width: int) -> None:
    """`drift-stream funding` in an 80-column pipe (or narrower): every market name of
    the mainnet preset appears whole; columns are left out instead, never wrapped."""
    symbols = [perp.symbol for perp in preset("mainnet").perps]
    funding = {s: funding_rate(s, i) for i, s in enumerate(symbols)}
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    console.print(render(funding, {}, network="local", console=console))
    lines = out.getvalue().splitlines()
    cells = {line.split("│")[1].strip() for line in lines if line.count("│") >= 2}
    assert set(symbols) <= cells
    assert max(len(line) for line in lines) <= width
    header = next(line for line in lines if "market" in line)
    assert ("annual %" in header) == (width >= 60)  # the most useful column after the name


def test_a_wide_console_shows_every_column() -> None:
    """With room, the table keeps all nine columns."""
    funding = {"SOL-PERP": funding_rate()}
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    console.print(render(funding, {}, network="local", console=console))
    for column in ("hourly %", "annual %", "pred long %", "24h avg %", "open interest"):
        assert column in out.getvalue()


def test_request_lines_only_with_verbose(caplog: pytest.LogCaptureFixture) -> None:
    """Quiet by default: httpx's and aiohttp's line per request are dropped; `-v` keeps
    them."""
    from streamer.logs import configure_logging

    for verbose, shown in ((False, False), (True, True)):
        configure_logging("INFO", requests=verbose)
        logging.getLogger().addHandler(caplog.handler)
        caplog.clear()
        logging.getLogger("httpx").info("HTTP Request: POST http://rpc")
        logging.getLogger("aiohttp.access").info("GET /admin/stats 200")
        assert (len(caplog.records) == 2) is shown
    configure_logging("WARNING")


def _bad_url(secure: SecureNats) -> str:
    return url_with_credentials(
        secure.server.url, Credentials("engine", SecretStr("not-the-password"))
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["funding", "streamer"])
async def test_refused_credentials_stop_a_command_with_one_line(
    secure_nats: SecureNats, command: str
) -> None:
    """A wrong password: the command stops at once with one line naming the URL (its
    password hidden) and where the credentials came from; no endless retry."""
    extra = ["--once"] if command == "funding" else ["--rpc-url", "http://127.0.0.1:1"]
    proc = await Proc.start(
        command, "--network", "local", "--nats-url", _bad_url(secure_nats), *extra
    )
    try:
        code = await proc.exit_code(20)
    finally:
        await proc.kill()
    assert code == 1, proc.text
    port = secure_nats.server.port
    assert (
        f"drift-stream: NATS at nats://engine:***@127.0.0.1:{port} refused the credentials: "
        "Authorization Violation (credentials from --nats-url)"
    ) in "".join(proc.err), proc.text
    assert "not-the-password" not in proc.text
    assert "Traceback" not in proc.text


@pytest.mark.timeout(60)
async def test_refused_credentials_from_ups_file_name_the_file(
    secure_nats: SecureNats, tmp_path: Path
) -> None:
    """Where `up`'s credentials files are used (no NATS_URL, no flag), the message names
    the file to look at."""
    auth = tmp_path / ".drift-stream" / "auth"
    auth.mkdir(parents=True)
    (auth / "engine.env").write_text(f"NATS_URL={_bad_url(secure_nats)}\n")
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    proc = await asyncio.create_subprocess_exec(
        *SCRIPT,
        "funding",
        "--once",
        "--network",
        "local",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert "(credentials from .drift-stream/auth/engine.env)" in err.decode()


async def test_the_library_raises_a_typed_error_for_refused_credentials(
    secure_nats: SecureNats,
) -> None:
    """`DriftStreamClient.connect` raises AuthenticationError at once (nats-py alone
    retries a refused password forever with unlimited reconnects)."""
    client = DriftStreamClient("local", nats_url=_bad_url(secure_nats))
    with pytest.raises(AuthenticationError) as raised:
        await asyncio.wait_for(client.connect(), 10)
    assert raised.value.url == f"nats://engine:***@127.0.0.1:{secure_nats.server.port}"
    assert "not-the-password" not in str(raised.value)
    assert raised.value.reason == "Authorization Violation"


@pytest.mark.timeout(60)
async def test_a_permissions_violation_is_logged_once_and_the_client_goes_on(
    secure_nats: SecureNats, secured_streamer: Streamer, caplog: pytest.LogCaptureFixture
) -> None:
    """An engine that publishes where it may not: the server refuses each publish and
    keeps the connection; the library logs it once for that subject and goes on."""
    caplog.set_level(logging.INFO, logger="drift_stream.client")
    async with DriftStreamClient("local", nats_url=secure_nats.urls["engine"]) as client:
        nc = client._nc
        assert nc is not None
        for _ in range(3):
            await nc.publish("drift.local.funding.SOL-PERP", b"{}")
        await nc.flush()
        await wait_until(lambda: sum(client._errors.counts.values()) == 3)
        refusals = [r for r in caplog.records if "permissions" in r.getMessage()]
        assert len(refusals) == 1
        assert "publish to drift.local.funding.sol-perp" in refusals[0].getMessage()
        assert nc.is_connected
        status = await client.request_status()  # still served
        assert status.network == "local"


@pytest.mark.timeout(90)
async def test_clean_closes_log_no_warning_and_every_task_stops(
    fresh_nats: NatsServer, localnet: LocalnetServer, caplog: pytest.LogCaptureFixture
) -> None:
    """`funding --once` connects, prints and closes: nothing at WARNING or above on its
    stderr (its clean close logged 'NATS disconnected' as a WARNING). The streamer that
    served it, with its feed running for a consumer, stops when cancelled: no task of
    it is left (none 'did not stop within 10 s'), and its own close is no warning."""
    caplog.set_level(logging.INFO)
    before = asyncio.all_tasks()
    settings = Settings(network="local", rpc_url=localnet.url, nats_url=fresh_nats.url)
    app = Streamer(settings, lambda: DriftSource(localnet.url), publish_interval_s=0.05)
    task = asyncio.create_task(app.run())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        table = await Proc.start(
            "funding", "--once", "--network", "local", "--nats-url", fresh_nats.url
        )
        try:
            code = await table.exit_code(45)
        finally:
            await table.kill()
        assert code == 0, table.text
        assert "SOL-PERP" in "".join(table.out)
        assert [line for line in table.err if re.search(r"\b(WARNING|ERROR)\b", line)] == []
        async with DriftStreamClient("local", nats_url=fresh_nats.url, name="holder"):
            await wait_until(lambda: app.state is StreamerState.RUNNING, timeout=15)
            task.cancel()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()]
    assert [t.get_name() for t in left if not t.done()] == []
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert not [m for _, m in messages if "did not stop" in m]
    # neither 'NATS disconnected' nor 'no longer leader' is a warning on a clean stop
    assert [m for level, m in messages if level >= logging.WARNING] == []
