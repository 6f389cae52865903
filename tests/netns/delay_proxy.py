"""A delaying TCP proxy: latency, not throttling.

    python -m tests.netns.delay_proxy --listen IP:PORT --target IP:PORT --delay-ms MS

Every accepted connection is forwarded to the target. Each chunk read from either side
is written to the other side `delay` after it was read, in the order read; nothing
limits the rate, so the proxy adds latency and nothing else (a request and its answer
take at least 2 x delay). A half-close is passed on after the delay too; a reset or an
error on either side closes both. The connection to the target is made as soon as a
client connects: data is delayed, the handshake is not.

The harness's `DelayProxy` speaks this over the proxy's stdin and stdout:
- the first stdout line, once listening: `listening <ip> <port>` (port 0 picks one);
- each stdin line `delay <ms>` sets the delay of chunks read from then on, answered
  `delay <ms>` (anything else: `error ...`); EOF on stdin ends control, not the proxy;
- SIGTERM or SIGINT: stop listening, close every connection, exit 0.

Why a process of its own (`Host.spawn`), not sockets of the test process made in the
namespace with setns: its timing does not depend on the test's event loop (busy, or
blocked by a slow fixture); it can be paused, killed or cut off like the services it
sits between; it dies with the harness (PR_SET_PDEATHSIG) and with the lab. Control
goes over its stdio pipe rather than a port: that works whatever faults the host's
network has, and needs no port of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass

log = logging.getLogger("drift_stream.tests.delay_proxy")

_CHUNK = 65536


@dataclass
class Delay:
    """The current one-way delay, in milliseconds (changed by the control channel)."""

    ms: float

    @property
    def seconds(self) -> float:
        return self.ms / 1000


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: Delay) -> None:
    """Copy reader to writer, each chunk `delay` after it was read, EOF included."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        while True:
            chunk = await reader.read(_CHUNK)
            queue.put_nowait((loop.time() + delay.seconds, chunk))
            if not chunk:
                return

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    async with asyncio.TaskGroup() as group:
        group.create_task(receive())
        group.create_task(deliver())


async def _connection(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    target: tuple[str, int],
    delay: Delay,
) -> None:
    """Forward one client connection to the target, both ways delayed."""
    reader, writer = client
    try:
        up_reader, up_writer = await asyncio.open_connection(*target)
    except OSError as exc:
        log.warning("cannot reach %s:%d: %s", *target, exc)
        writer.close()
        return
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_pump(reader, up_writer, delay))
            group.create_task(_pump(up_reader, writer, delay))
    except* OSError as errors:
        log.info("connection closed: %s", errors.exceptions[0])
    finally:
        for side in (writer, up_writer):
            side.close()


async def _control(delay: Delay) -> None:
    """Read `delay <ms>` lines from stdin until EOF, answering each on stdout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except ValueError:  # stdin is a regular file: no control channel
        return
    while line := await reader.readline():
        match line.decode().split():
            case ["delay", value]:
                try:
                    delay.ms = max(0.0, float(value))
                    answer = f"delay {delay.ms:g}"
                except ValueError:
                    answer = f"error not a number: {value}"
            case _:
                answer = f"error unknown command: {line.decode().strip()}"
        print(answer, flush=True)


async def serve(listen: tuple[str, int], target: tuple[str, int], delay: Delay) -> None:
    """Run the proxy until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    connections: set[asyncio.Task[None]] = set()

    def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A task of our own per connection, kept until it ends, so that stopping can
        # cancel it (cancelling asyncio's own handler task logs an error on 3.11).
        task = asyncio.create_task(_connection((reader, writer), target, delay))
        connections.add(task)
        task.add_done_callback(connections.discard)

    server = await asyncio.start_server(on_client, *listen)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening {host} {port}", flush=True)
    control = asyncio.create_task(_control(delay))
    try:
        await stop.wait()
    finally:
        server.close()
        tasks = [control, *connections]
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("proxy task failed", exc_info=result)
        with contextlib.suppress(OSError):
            await server.wait_closed()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the proxy."""
    parser = argparse.ArgumentParser(prog="python -m tests.netns.delay_proxy")
    parser.add_argument("--listen", type=_address, required=True, help="IP:PORT (port 0: any)")
    parser.add_argument("--target", type=_address, required=True, help="IP:PORT")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="delay_proxy: %(message)s")
    asyncio.run(serve(args.listen, args.target, Delay(args.delay_ms)))


if __name__ == "__main__":
    main()
