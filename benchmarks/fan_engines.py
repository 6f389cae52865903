"""Fan-out engines in processes of their own: each process holds some `DriftStreamClient`s
on a few NATS connections, so the engines' parsing spreads over the machine's cores as
separate engine processes would.

    python -m benchmarks.fan_engines --nats-url URL --engines 25 --connections 3 --first 0

The process prints `{"ready": true}` once every engine has its funding (at least
`--markets` values), then answers each `count` line on stdin with
`{"updates": [...], "slow_consumers": N}` (each engine's `stats.updates`, and how many
times nats-py saw its connection fall behind), and exits on `stop`, end of input or
SIGTERM. `EngineProcs` starts and reads them from the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from benchmarks.procs import cpu_seconds, python, stop_all

__all__ = ["EngineProcs", "main"]

_READY_TIMEOUT_S = 120.0


class EngineProcs:
    """`engines` fan-out engines over `processes` engine processes."""

    def __init__(
        self, nats_url: str, engines: int, processes: int, markets: int, connections: int = 3
    ) -> None:
        self._args = (nats_url, engines, processes, markets, connections)
        self.procs: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> EngineProcs:
        nats_url, engines, processes, markets, connections = self._args
        shares = [
            engines // processes + (1 if i < engines % processes else 0) for i in range(processes)
        ]
        first = 0
        try:
            for share in shares:
                if share == 0:
                    continue
                self.procs.append(
                    await python(
                        "benchmarks.fan_engines",
                        "--nats-url",
                        nats_url,
                        "--engines",
                        str(share),
                        "--connections",
                        str(min(connections, share)),
                        "--first",
                        str(first),
                        "--markets",
                        str(markets),
                        stdin=True,
                    )
                )
                first += share
            for proc in self.procs:
                await _expect(proc, "ready")
        except BaseException:
            await stop_all(self.procs)
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        for proc in self.procs:
            with contextlib.suppress(OSError, RuntimeError):
                assert proc.stdin is not None
                proc.stdin.write(b"stop\n")
        await stop_all(self.procs)

    async def counts(self) -> tuple[list[int], int]:
        """Every engine's updates so far, and the processes' slow-consumer events."""
        updates: list[int] = []
        slow = 0
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"count\n")
            answer = await _expect(proc, "updates")
            updates += answer["updates"]
            slow += answer["slow_consumers"]
        return updates, slow

    def cpu_seconds(self) -> list[float]:
        return [cpu_seconds(p.pid) for p in self.procs]


async def _expect(proc: asyncio.subprocess.Process, key: str) -> dict[str, Any]:
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), _READY_TIMEOUT_S)
        if not line:
            raise RuntimeError(f"an engine process exited (code {await proc.wait()})")
        with contextlib.suppress(ValueError):
            answer = json.loads(line)
            if isinstance(answer, dict) and key in answer:
                return answer


async def _serve(args: argparse.Namespace) -> None:
    import nats

    from subscribers.client import DriftStreamClient

    slow = 0

    async def on_error(exc: Exception) -> None:
        nonlocal slow
        if "slow consumer" in str(exc).lower():
            slow += 1

    conns = [await nats.connect(args.nats_url, error_cb=on_error) for _ in range(args.connections)]
    clients = [
        DriftStreamClient(
            "local",
            nc=conns[i % len(conns)],
            name=f"fan{args.first + i}",
            consumer_id=f"fan{args.first + i:04d}",
        )
        for i in range(args.engines)
    ]
    try:
        for client in clients:
            await client.connect()
        for client in clients:
            while len(await client.funding_all()) < args.markets:
                await asyncio.sleep(0.05)  # start-up: the first values are on their way
        print(json.dumps({"ready": True}), flush=True)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while (line := (await reader.readline()).strip()) not in (b"", b"stop"):
            if line == b"count":
                updates = [c.stats.updates for c in clients]
                print(json.dumps({"updates": updates, "slow_consumers": slow}), flush=True)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--engines", type=int, required=True)
    parser.add_argument("--connections", type=int, default=3)
    parser.add_argument("--first", type=int, default=0, help="the first engine's number")
    parser.add_argument("--markets", type=int, default=1, help="funding values before ready")
    args = parser.parse_args()

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await _serve(args)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
