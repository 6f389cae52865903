"""The harness's side of a delay proxy: start `delay_proxy` in a host, change its delay
while it runs, stop it.

The proxy runs as `python -m tests.netns.delay_proxy` (this interpreter, the project
root as working directory) through `Host.spawn`, so the lab stops it like any other
process. Its stdin and stdout are pipes held by the `DelayProxy`: the ready line gives
its address, a `delay <ms>` line changes the delay and waits for the proxy's answer.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.netns.errors import NetnsError
from tests.netns.host import Host
from tests.netns.processes import Process, kill, send_signal

__all__ = ["DelayProxy", "start_delay_proxy"]

_ROOT = Path(__file__).resolve().parents[2]  # where `tests` is importable from
_TIMEOUT = 10.0


@dataclass(eq=False)
class DelayProxy:
    """A running delay proxy: `address` is where to connect instead of `target`."""

    host: Host
    address: tuple[str, int]
    target: tuple[str, int]
    process: Process = field(repr=False)
    delay_ms: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def set_delay(self, delay_ms: float) -> None:
        """Set the one-way delay of every chunk read from now on (each direction)."""
        async with self._lock:
            stdin, stdout = self.process.stdin, self.process.stdout
            assert stdin is not None
            assert stdout is not None
            stdin.write(f"delay {delay_ms:g}\n".encode())
            await stdin.drain()
            async with asyncio.timeout(_TIMEOUT):
                answer = (await stdout.readline()).decode().strip()
            if answer != f"delay {delay_ms:g}":
                raise NetnsError(f"delay proxy in {self.host.name} answered {answer!r}")
            self.delay_ms = delay_ms

    async def stop(self) -> int:
        """SIGTERM (and SIGCONT, were it paused), wait for the clean exit (SIGKILL
        after 10 s); the exit code."""
        send_signal(self.process, signal.SIGTERM)
        send_signal(self.process, signal.SIGCONT)
        try:
            async with asyncio.timeout(_TIMEOUT):
                return await self.process.wait()
        except TimeoutError:
            kill(self.process)
            return await self.process.wait()


async def start_delay_proxy(
    host: Host, target: tuple[str, int], delay_ms: float, *, port: int = 0
) -> DelayProxy:
    """Start a proxy in `host` listening on `host.ip:port`, forwarding to `target`."""
    process = await host.spawn(
        [
            sys.executable,
            "-m",
            "tests.netns.delay_proxy",
            "--listen",
            f"{host.ip}:{port}",
            "--target",
            f"{target[0]}:{target[1]}",
            "--delay-ms",
            f"{delay_ms:g}",
        ],
        cwd=_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(_TIMEOUT):
            ready = (await process.stdout.readline()).decode().split()
    except TimeoutError:
        ready = []
    match ready:
        case ["listening", ip, listen_port]:
            return DelayProxy(host, (ip, int(listen_port)), target, process, delay_ms)
    kill(process)
    code = await process.wait()
    raise NetnsError(f"delay proxy in {host.name} did not start (exit {code}, said {ready})")
